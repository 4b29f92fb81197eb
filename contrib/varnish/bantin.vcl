# Varnish in front of `bantin serve` (docs/deployment.md, "Behind a CDN").
# Feeds, archives and pages are kept a day; bantin purges exactly what a
# write changed, by key, with `PURGE /` and an `xkey: KEY KEY …` header
# (site file: [cdn] key_header = "xkey", purge = "varnish",
# purge_url = "http://127.0.0.1:6081/"). Needs the xkey vmod (Debian:
# varnish-modules).
vcl 4.1;

import xkey;

backend bantin {
    .host = "127.0.0.1";
    .port = "8080";
}

# Who may purge: bantin's own hosts.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        if (!req.http.xkey) {
            return (synth(400, "An xkey header is needed"));
        }
        # Soft purge would serve stale copies meanwhile; a purge of a
        # document that changed should not.
        set req.http.x-purged = xkey.purge(req.http.xkey);
        return (synth(200, "Purged " + req.http.x-purged));
    }
    # A replica's own figures and health are not for the public.
    if (req.url ~ "^/(metrics|healthz)") {
        return (synth(403, "Forbidden"));
    }
}

sub vcl_backend_response {
    # Every document bantin serves carries its keys: keep it a day (bantin
    # purges it when it changes), and serve a stale copy for a day more
    # while bantin is down (grace).
    if (beresp.http.xkey && beresp.status == 200) {
        set beresp.ttl = 1d;
        set beresp.grace = 1d;
    }
}

sub vcl_deliver {
    # The keys are for this cache, not for readers.
    unset resp.http.xkey;
}
