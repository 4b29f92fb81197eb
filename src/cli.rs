//! The command line, declared with clap's derive API: the doc comments below
//! are the help text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::logging::LogFormat;
use crate::render::Format;

/// Publish a newsroom's articles as RSS 2.0, Atom 1.0 and JSON Feed.
#[derive(Debug, Parser)]
#[command(name = "bantin", version, about)]
pub struct Cli {
    /// Article store: sqlite:PATH or postgres://USER@HOST:PORT/DB.
    #[arg(long, global = true, env = "BANTIN_STORE", default_value = crate::config::DEFAULT_STORE)]
    pub store: String,
    /// Site file [default: feeds/site.toml]. `import` reads its limits; when
    /// neither this flag nor BANTIN_SITE is given and the default file does
    /// not exist, `import` applies SPEC's default limits.
    #[arg(long, global = true, env = "BANTIN_SITE", value_name = "PATH")]
    pub site: Option<PathBuf>,
    /// How `serve` writes its log lines to stderr: text (colour only on a
    /// terminal) or json (one object a line).
    #[arg(
        long,
        global = true,
        env = "BANTIN_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve every feed over HTTP with conditional GET caching.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "BANTIN_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Import article files or folders (recursively) into the store.
    Import {
        /// Write nothing if any record is bad.
        #[arg(long)]
        strict: bool,
        /// .jsonl, .txt and .md files, or folders of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Take articles out of the store, and so out of every feed.
    Remove {
        /// Article ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Write one feed to stdout.
    Dump {
        /// Category slug.
        #[arg(long)]
        category: Option<String>,
        /// Region slug.
        #[arg(long)]
        region: Option<String>,
        /// Author slug (an author's feed; not with --category or --region).
        #[arg(long, conflicts_with_all = ["category", "region"])]
        author: Option<String>,
        /// Feed format.
        #[arg(long, value_enum, default_value_t = FormatArg::Rss)]
        format: FormatArg,
        /// At most this many items (default: the site's items_per_feed).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
    },
    /// Write every feed, index.html and feeds.opml as static files.
    Build {
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Write each archive document as its .gz alone, without the
        /// uncompressed file (a fifth of the disk); the web server decodes
        /// it for clients that don't take gzip.
        #[arg(long)]
        gzip_archives: bool,
    },
    /// Validate the site file and the store; exit 1 if anything is wrong.
    Check {
        /// First remove link rows whose article is gone (left by SQLite
        /// deletes made with foreign keys off) and rebuild the catalog
        /// counts they skewed.
        #[arg(long)]
        repair: bool,
    },
    /// Apply the store's pending schema migrations and name them, and adopt
    /// the site file's limits for rows a CMS writes (serve and import
    /// migrate too; dump, check and build only read).
    Migrate,
    /// The audience of each feed: total and subscribers per fetcher,
    /// biggest first (counted by `bantin serve`).
    Stats {
        /// Instead, per fetcher over 24 hours: requests, the share
        /// conditional, the share answered 304, the median interval
        /// between two fetches of one feed by one client, 429s.
        #[arg(long)]
        readers: bool,
    },
    /// Write a completion script for SHELL to stdout.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Write the manual page (roff) to stdout.
    Man,
}

/// Shells `completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash
    Bash,
    /// Zsh
    Zsh,
    /// Fish
    Fish,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// RSS 2.0
    Rss,
    /// Atom 1.0
    Atom,
    /// JSON Feed 1.1
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Rss => Format::Rss,
            FormatArg::Atom => Format::Atom,
            FormatArg::Json => Format::Json,
        }
    }
}
