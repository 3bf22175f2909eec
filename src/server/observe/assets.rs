//! The web dashboard's files, embedded in the binary at build time (no
//! CDN, no file to install: it works offline). The files themselves live in
//! `dashboard/` at the top of the source tree; this module only finds them
//! by path. HTTP content types are the HTTP codec's business.

/// One embedded file.
pub struct Asset {
    /// Its path under `/dashboard/` (`index.html`, `app.js`, …).
    pub path: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

/// Every file of the dashboard.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "index.html",
        body: include_bytes!("../../../dashboard/index.html"),
    },
    Asset {
        path: "app.js",
        body: include_bytes!("../../../dashboard/app.js"),
    },
    Asset {
        path: "app.css",
        body: include_bytes!("../../../dashboard/app.css"),
    },
];

/// The file at `path` (`/` and the empty path are `index.html`; a leading
/// `/` or `dashboard/` is ignored).
pub fn find(path: &[u8]) -> Option<&'static Asset> {
    let path = path.strip_prefix(b"/").unwrap_or(path);
    let path = path.strip_prefix(b"dashboard/").unwrap_or(path);
    let path: &[u8] = if path.is_empty() { b"index.html" } else { path };
    ASSETS.iter().find(|a| a.path.as_bytes() == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_their_files() {
        for (path, want) in [
            (&b""[..], "index.html"),
            (b"/", "index.html"),
            (b"/dashboard/app.js", "app.js"),
            (b"app.css", "app.css"),
        ] {
            assert_eq!(find(path).map(|a| a.path), Some(want), "{path:?}");
        }
        assert!(find(b"/dashboard/../Cargo.toml").is_none());
        assert!(find(b"nope.js").is_none());
    }

    #[test]
    fn the_page_loads_only_embedded_files() {
        let html = std::str::from_utf8(find(b"/").unwrap().body).unwrap();
        for src in ["/dashboard/app.js", "/dashboard/app.css"] {
            assert!(html.contains(src), "{src}");
        }
        // Nothing from elsewhere: it must work offline.
        assert!(!html.contains("http://") && !html.contains("https://"));
        let js = std::str::from_utf8(find(b"app.js").unwrap().body).unwrap();
        assert!(!js.contains("http://") && !js.contains("https://"));
    }
}
