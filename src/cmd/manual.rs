//! `bantin completions SHELL` and `bantin man`: made from the same
//! declaration of the command line as `--help` (`crate::cli`), so they never
//! drift from it.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, Shell};

/// A completion script for `shell` on stdout.
pub fn completions(shell: Shell) -> anyhow::Result<ExitCode> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "bantin", &mut script);
    write(&script)
}

/// The manual page (roff) on stdout: one page, each subcommand with its
/// own flags in a section of it (there are no `bantin-serve(1)` pages to
/// point to).
pub fn man() -> anyhow::Result<ExitCode> {
    let mut cli = Cli::command();
    // Settles what each argument takes (values, counts), as parsing would.
    cli.build();
    let man = clap_mangen::Man::new(cli.clone());
    let mut page = Vec::new();
    let rendered = (|| -> std::io::Result<()> {
        man.render_title(&mut page)?;
        man.render_name_section(&mut page)?;
        man.render_synopsis_section(&mut page)?;
        man.render_description_section(&mut page)?;
        man.render_options_section(&mut page)?;
        commands(&cli, &mut page)?;
        man.render_version_section(&mut page)
    })();
    rendered.context("writing the manual page")?;
    write(&page)
}

/// The COMMANDS section: each subcommand, what it does, its arguments.
fn commands(cli: &clap::Command, page: &mut Vec<u8>) -> std::io::Result<()> {
    writeln!(page, ".SH COMMANDS")?;
    for sub in cli.get_subcommands().filter(|s| s.get_name() != "help") {
        let args: Vec<&clap::Arg> = sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_global_set() && a.get_id() != "help")
            .collect();
        let line: Vec<String> = args
            .iter()
            .map(|a| match usage(a) {
                u if a.is_required_set() || a.get_long().is_none() => u,
                u => format!("[{u}]"),
            })
            .collect();
        writeln!(
            page,
            ".SS \"bantin {}\"\n{}\n.PP\n{}",
            sub.get_name(),
            roff(&format!("bantin {} {}", sub.get_name(), line.join(" "))),
            roff(&sub.get_about().map(ToString::to_string).unwrap_or_default())
        )?;
        for a in args {
            let mut help = a.get_help().map(ToString::to_string).unwrap_or_default();
            let defaults: Vec<String> = a
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            let values: Vec<String> = a
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_string())
                .collect();
            if !values.is_empty() {
                help.push_str(&format!(" ({})", values.join(", ")));
            }
            let takes = a.get_num_args().is_some_and(|n| n.takes_values());
            if takes && !defaults.is_empty() {
                help.push_str(&format!(" [default: {}]", defaults.join(", ")));
            }
            writeln!(page, ".TP\n{}\n{}", roff(&usage(a)), roff(&help))?;
        }
    }
    Ok(())
}

/// How an argument is written: `--flag VALUE`, `--flag` or `PATH...`.
fn usage(a: &clap::Arg) -> String {
    let value = a
        .get_value_names()
        .and_then(|v| v.first())
        .map_or_else(|| a.get_id().as_str().to_uppercase(), ToString::to_string);
    let takes = a.get_num_args().is_some_and(|n| n.takes_values());
    match a.get_long() {
        Some(long) if takes => format!("--{long} {value}"),
        Some(long) => format!("--{long}"),
        None if a.is_required_set() => format!("{value}..."),
        None => format!("[{value}]"),
    }
}

/// `text` as one roff text line: escapes backslashes and dashes, and keeps
/// a leading dot or quote from reading as a request.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// Write `bytes` to stdout; a closed stdout is an error, not a panic.
fn write(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}
