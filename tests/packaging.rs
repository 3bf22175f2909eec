//! Packaging (issue 18): `libducq.so` carries the SONAME `libducq.so.0`;
//! `scripts/install.sh` lays out a prefix (versioned library and its links,
//! every header, `ducq.pc` for that prefix, binaries, a unit that passes
//! `systemd-analyze verify`); a C program is built against the installed
//! tree with `pkg-config --cflags --libs ducq`, shared and static, and
//! publishes to the installed server; `scripts/deb.sh` builds a `.deb`
//! whose contents, control fields, checksums and unit are checked, and
//! which dpkg installs, removes and purges in a scratch root.
//!
//! Everything is built once by `cargo test` (the library's cdylib and
//! staticlib beside the test executables, the binaries): the tests install
//! those files, once, into a prefix under the target folder.

mod server_bin;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use ducq::client::Client;
use server_bin::listening;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/debug` of this test run.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// The scratch folder under the target folder, emptied at the start of
/// each run (one name, so runs do not pile up copies of the build).
fn work() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = profile_dir().join("packaging");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

fn check(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn run(cmd: &mut Command, what: &str) -> String {
    check(cmd.output().unwrap_or_else(|e| panic!("{what}: {e}")), what)
}

/// The built files install.sh takes with `--from`: links to what this
/// `cargo test` built.
fn built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = work().join("built");
        std::fs::create_dir_all(&dir).unwrap();
        let deps = profile_dir().join("deps");
        let files = [
            ("libducq.so", deps.join("libducq.so")),
            ("libducq.a", deps.join("libducq.a")),
            ("ducq", PathBuf::from(env!("CARGO_BIN_EXE_ducq"))),
            (
                "ducq-server",
                PathBuf::from(env!("CARGO_BIN_EXE_ducq-server")),
            ),
        ];
        for (name, file) in files {
            assert!(file.is_file(), "{} was not built", file.display());
            std::os::unix::fs::symlink(&file, dir.join(name)).unwrap();
        }
        dir
    })
}

/// The prefix install.sh installed into (once).
fn prefix() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let prefix = work().join("prefix");
        let out = run(
            Command::new(root().join("scripts/install.sh"))
                .arg("--prefix")
                .arg(&prefix)
                .arg("--from")
                .arg(built()),
            "install.sh",
        );
        assert_eq!(
            out,
            format!("installed ducq {VERSION} in {}\n", prefix.display())
        );
        prefix
    })
}

/// Every file and link under `dir`, relative, links as `path -> target`,
/// with the permission bits of files.
fn tree(dir: &Path) -> BTreeSet<String> {
    use std::os::unix::fs::PermissionsExt;
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let to = std::fs::read_link(&path).unwrap();
                out.insert(format!("{rel} -> {}", to.display()));
            } else if meta.is_dir() {
                walk(base, &path, out);
            } else {
                out.insert(format!("{rel} {:o}", meta.permissions().mode() & 0o777));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

fn soname(lib: &Path) -> String {
    let dynamic = run(Command::new("readelf").arg("-d").arg(lib), "readelf -d");
    let line = dynamic
        .lines()
        .find(|l| l.contains("(SONAME)"))
        .unwrap_or_else(|| panic!("no SONAME in {}:\n{dynamic}", lib.display()));
    line.split('[')
        .nth(1)
        .and_then(|s| s.strip_suffix(']'))
        .unwrap()
        .to_owned()
}

fn needed(program: &Path) -> Vec<String> {
    let dynamic = run(Command::new("readelf").arg("-d").arg(program), "readelf -d");
    dynamic
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.strip_suffix(']').map(str::to_owned))
        .collect()
}

#[test]
fn the_shared_library_has_the_soname_libducq_so_0() {
    assert_eq!(
        soname(&profile_dir().join("deps/libducq.so")),
        "libducq.so.0"
    );
    let installed = prefix().join(format!("lib/libducq.so.{VERSION}"));
    assert_eq!(soname(&installed), "libducq.so.0");
}

#[test]
fn install_lays_out_library_links_headers_pkg_config_binaries_and_unit() {
    let mut want: BTreeSet<String> = [
        "bin/ducq 755".to_owned(),
        "bin/ducq-server 755".to_owned(),
        "lib/libducq.a 644".to_owned(),
        format!("lib/libducq.so.{VERSION} 755"),
        "lib/libducq.so.0 -> libducq.so.".to_owned() + VERSION,
        "lib/libducq.so -> libducq.so.0".to_owned(),
        "lib/pkgconfig/ducq.pc 644".to_owned(),
        "lib/systemd/system/ducq.service 644".to_owned(),
    ]
    .into();
    // Every header of include/, whatever it holds.
    for h in tree(&root().join("include")) {
        let name = h.rsplit_once(' ').unwrap().0;
        want.insert(format!("include/{name} 644"));
    }
    assert_eq!(tree(prefix()), want);
    for h in tree(&root().join("include")) {
        let name = h.rsplit_once(' ').unwrap().0;
        assert_eq!(
            std::fs::read(prefix().join("include").join(name)).unwrap(),
            std::fs::read(root().join("include").join(name)).unwrap(),
            "{name}"
        );
    }

    let pc = std::fs::read_to_string(prefix().join("lib/pkgconfig/ducq.pc")).unwrap();
    let p = prefix().display();
    assert!(pc.contains(&format!("\nprefix={p}\n")), "{pc}");
    assert!(pc.contains("\nincludedir=${prefix}/include\n"), "{pc}");
    assert!(pc.contains("\nlibdir=${prefix}/lib\n"), "{pc}");
    assert!(pc.contains(&format!("\nVersion: {VERSION}\n")), "{pc}");

    let unit = std::fs::read_to_string(prefix().join("lib/systemd/system/ducq.service")).unwrap();
    for line in [
        "Type=notify".to_owned(),
        format!("ExecStart={p}/bin/ducq-server $DUCQ_OPTS"),
        "ExecReload=/bin/kill -HUP $MAINPID".to_owned(),
        "WatchdogSec=30s".to_owned(),
        format!("EnvironmentFile=-{p}/etc/default/ducq"),
        // The default ./ducq-data must land somewhere the dynamic user
        // may write under ProtectSystem=strict.
        "DynamicUser=yes".to_owned(),
        "StateDirectory=ducq".to_owned(),
        "WorkingDirectory=%S/ducq".to_owned(),
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} not in\n{unit}");
    }
    assert!(!unit.contains('@'), "unsubstituted placeholder in\n{unit}");
}

#[test]
fn the_installed_unit_passes_systemd_analyze_verify() {
    let unit = prefix().join("lib/systemd/system/ducq.service");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("run systemd-analyze (apt-get install systemd)");
    check(out.clone(), "systemd-analyze verify");
    // Warnings go to stderr with a zero status: there must be none.
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

fn pkg_config(args: &[&str]) -> String {
    run(
        Command::new("pkg-config")
            .args(args)
            .arg("ducq")
            .env("PKG_CONFIG_PATH", prefix().join("lib/pkgconfig"))
            .env_remove("PKG_CONFIG_LIBDIR")
            .env_remove("PKG_CONFIG_SYSROOT_DIR"),
        "pkg-config",
    )
    .trim()
    .to_owned()
}

const PROGRAM: &str = r#"
#include <stdio.h>
#include <string.h>
#include <ducq.h>

/* Publishes ROUTE PAYLOAD to HOST PORT through the installed library. */
int main(int argc, char **argv) {
    ducq_i *d;
    ducq_state s;
    if (argc != 5)
        return 2;
    if (strcmp(ducq_version(), DUCQ_VERSION) != 0) {
        fprintf(stderr, "header %s, library %s\n", DUCQ_VERSION, ducq_version());
        return 3;
    }
    d = ducq_new_tcp(argv[1], argv[2]);
    if (!d)
        return 1;
    s = ducq_conn(d);
    if (s == DUCQ_OK)
        s = ducq_pub(d, argv[3], argv[4], strlen(argv[4]));
    printf("%s %s\n", ducq_version(), ducq_state_tostr(s));
    ducq_free(d);
    return s == DUCQ_OK ? 0 : 1;
}
"#;

/// Compiles PROGRAM with these pkg-config flags.
fn compile(name: &str, flags: &str) -> PathBuf {
    let src = work().join("installed_pub.c");
    std::fs::write(&src, PROGRAM).unwrap();
    let exe = work().join(name);
    run(
        Command::new("cc")
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(&exe)
            .arg(&src)
            .args(flags.split_whitespace()),
        "cc",
    );
    exe
}

/// The installed `ducq-server` on a port of its own; killed on drop.
struct Server(Child, u16);

impl Server {
    fn start() -> Server {
        let mut child = Command::new(prefix().join("bin/ducq-server"))
            .args(["--tcp", "127.0.0.1:0", "--log-level", "info"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let port = listening(&mut child, 1)[0].port();
        Server(child, port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the program against the server and returns what a subscriber got.
fn publish_with(exe: &Path, server: &Server, route: &str, ld_path: Option<&Path>) -> Vec<u8> {
    let addr = format!("127.0.0.1:{}", server.1);
    let mut sub = Client::connect(&addr, Duration::from_secs(5)).unwrap();
    sub.subscribe(route, "").unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["127.0.0.1", &server.1.to_string(), route, "from C"]);
    cmd.env_remove("LD_LIBRARY_PATH");
    if let Some(p) = ld_path {
        cmd.env("LD_LIBRARY_PATH", p);
    }
    let out = run(&mut cmd, "the C program");
    assert_eq!(out, format!("{VERSION} ok\n"));
    sub.receive().unwrap()
}

#[test]
fn a_c_program_links_the_installed_tree_through_pkg_config() {
    let p = prefix().display().to_string();
    let flags = pkg_config(&["--cflags", "--libs"]);
    assert_eq!(flags, format!("-I{p}/include -L{p}/lib -lducq"));

    // Shared: the program needs the SONAME, found in the installed libdir.
    let shared = compile("pub_shared", &flags);
    let deps = needed(&shared);
    assert!(deps.contains(&"libducq.so.0".to_owned()), "{deps:?}");
    let server = Server::start();
    let got = publish_with(&shared, &server, "pkg/shared", Some(&prefix().join("lib")));
    assert_eq!(got, b"pub pkg/shared\nfrom C");
    // Without the libdir on the search path the loader names what it misses.
    let out = Command::new(&shared)
        .args(["127.0.0.1", "1", "r", "p"])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("libducq.so.0"));

    // Static: everything in the program, nothing to find at run time.
    let flags = pkg_config(&["--static", "--cflags", "--libs"]);
    let static_flags = flags.replace("-lducq", &format!("{p}/lib/libducq.a"));
    let linked = compile("pub_static", &static_flags);
    let deps = needed(&linked);
    assert!(!deps.iter().any(|d| d.starts_with("libducq")), "{deps:?}");
    let got = publish_with(&linked, &server, "pkg/static", None);
    assert_eq!(got, b"pub pkg/static\nfrom C");
}

#[test]
fn install_refuses_bad_arguments_clearly() {
    let script = root().join("scripts/install.sh");
    let cases: [(&[&str], &str); 4] = [
        (&["--frobnicate"], "install.sh: unknown option '--frobnicate' (see --help)\n"),
        (&["--prefix"], "install.sh: --prefix needs a value\n"),
        (
            &["--prefix", "relative/dir"],
            "install.sh: --prefix must be an absolute path, not 'relative/dir'\n",
        ),
        (
            &["--prefix", "/nowhere", "--from", "/nonexistent-ducq-build"],
            "install.sh: /nonexistent-ducq-build/libducq.a is missing (build first, or drop --from)\n",
        ),
    ];
    for (args, err) in cases {
        let out = Command::new(&script).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), err, "{args:?}");
    }
}

/// The package, built once.
fn deb() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        let out = work().join("deb");
        let path = run(
            Command::new(root().join("scripts/deb.sh"))
                .arg("--from")
                .arg(built())
                .arg("--out")
                .arg(&out)
                .args(["--compression", "none"]),
            "deb.sh",
        );
        PathBuf::from(path.trim())
    })
}

fn multiarch() -> String {
    run(
        Command::new("dpkg-architecture").args(["-qDEB_HOST_MULTIARCH"]),
        "dpkg-architecture",
    )
    .trim()
    .to_owned()
}

#[test]
fn the_deb_holds_exactly_the_installed_tree_and_its_control_files() {
    let arch = run(
        Command::new("dpkg-architecture").args(["-qDEB_HOST_ARCH"]),
        "dpkg-architecture",
    );
    assert_eq!(
        deb().file_name().unwrap().to_str().unwrap(),
        format!("ducq_{VERSION}_{}.deb", arch.trim())
    );
    let field = |name: &str| {
        run(
            Command::new("dpkg-deb").arg("-f").arg(deb()).arg(name),
            "dpkg-deb -f",
        )
        .trim()
        .to_owned()
    };
    assert_eq!(field("Package"), "ducq");
    assert_eq!(field("Version"), VERSION);
    assert_eq!(field("Architecture"), arch.trim());
    let depends = field("Depends");
    assert!(depends.starts_with("libc6 (>= "), "{depends}");

    // The listing: every path, its mode and owner, links with targets.
    let listing = run(Command::new("dpkg-deb").arg("-c").arg(deb()), "dpkg-deb -c");
    let mut files = BTreeSet::new();
    for line in listing.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[1], "root/root", "{line}");
        let path = cols[5].trim_start_matches('.');
        if cols[0].starts_with('d') {
            continue;
        }
        let entry = match cols.get(6) {
            Some(&"->") => format!("{path} -> {}", cols[7]),
            _ => format!("{path} {}", cols[0]),
        };
        files.insert(entry);
    }
    let lib = format!("/usr/lib/{}", multiarch());
    let mut want: BTreeSet<String> = [
        "/etc/default/ducq -rw-r--r--".to_owned(),
        "/usr/bin/ducq -rwxr-xr-x".to_owned(),
        "/usr/bin/ducq-server -rwxr-xr-x".to_owned(),
        format!("{lib}/libducq.a -rw-r--r--"),
        format!("{lib}/libducq.so.{VERSION} -rwxr-xr-x"),
        format!("{lib}/libducq.so.0 -> libducq.so.{VERSION}"),
        format!("{lib}/libducq.so -> libducq.so.0"),
        format!("{lib}/pkgconfig/ducq.pc -rw-r--r--"),
        "/usr/lib/systemd/system/ducq.service -rw-r--r--".to_owned(),
        "/usr/share/doc/ducq/CHANGELOG.md -rw-r--r--".to_owned(),
        "/usr/share/doc/ducq/README.md -rw-r--r--".to_owned(),
        "/usr/share/doc/ducq/copyright -rw-r--r--".to_owned(),
    ]
    .into();
    for h in tree(&root().join("include")) {
        let name = h.rsplit_once(' ').unwrap().0;
        want.insert(format!("/usr/include/{name} -rw-r--r--"));
    }
    assert_eq!(files, want, "{listing}");

    // Control files, and checksums that match the payload.
    let x = work().join("deb-x");
    let _ = std::fs::remove_dir_all(&x);
    run(
        Command::new("dpkg-deb").arg("-R").arg(deb()).arg(&x),
        "dpkg-deb -R",
    );
    let control: BTreeSet<String> = std::fs::read_dir(x.join("DEBIAN"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let want: BTreeSet<String> = [
        "conffiles",
        "control",
        "md5sums",
        "postinst",
        "postrm",
        "prerm",
    ]
    .map(String::from)
    .into();
    assert_eq!(control, want);
    assert_eq!(
        std::fs::read_to_string(x.join("DEBIAN/conffiles")).unwrap(),
        "/etc/default/ducq\n"
    );
    let sums = run(
        Command::new("md5sum")
            .args(["--check", "--strict", "DEBIAN/md5sums"])
            .current_dir(&x),
        "md5sum --check",
    );
    assert_eq!(sums.lines().count(), want_payload_files(&x), "{sums}");
    assert!(sums.lines().all(|l| l.ends_with(": OK")), "{sums}");

    let pc = std::fs::read_to_string(x.join(format!("{}/pkgconfig/ducq.pc", &lib[1..]))).unwrap();
    assert!(pc.contains("\nprefix=/usr\n"), "{pc}");
    assert!(
        pc.contains(&format!("\nlibdir=${{prefix}}/lib/{}\n", multiarch())),
        "{pc}"
    );
}

/// Regular files outside DEBIAN/ in an unpacked package.
fn want_payload_files(x: &Path) -> usize {
    tree(x)
        .iter()
        .filter(|e| !e.starts_with("DEBIAN/") && !e.contains(" -> "))
        .count()
}

#[test]
fn the_deb_unit_passes_systemd_analyze_verify() {
    // Its unit names /usr/bin/ducq-server, which verify wants to find. The
    // package is not installed on the test machine, so the unit is checked
    // with that one path pointed at the unpacked copy; every other line is
    // the packaged one.
    let x = work().join("deb-unit");
    let _ = std::fs::remove_dir_all(&x);
    run(
        Command::new("dpkg-deb").arg("-x").arg(deb()).arg(&x),
        "dpkg-deb -x",
    );
    let unit = std::fs::read_to_string(x.join("usr/lib/systemd/system/ducq.service")).unwrap();
    assert!(
        unit.contains("\nExecStart=/usr/bin/ducq-server $DUCQ_OPTS\n"),
        "{unit}"
    );
    assert!(
        unit.contains("\nEnvironmentFile=-/etc/default/ducq\n"),
        "{unit}"
    );
    let server = x.join("usr/bin/ducq-server");
    let checked = x.join("ducq.service");
    std::fs::write(
        &checked,
        unit.replace("/usr/bin/ducq-server", server.to_str().unwrap()),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&checked)
        .output()
        .expect("run systemd-analyze (apt-get install systemd)");
    check(out.clone(), "systemd-analyze verify");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    // The packaged server runs.
    let version = run(
        Command::new(&server).arg("--version"),
        "ducq-server --version",
    );
    assert_eq!(version, format!("ducq-server {VERSION}\n"));
}

fn dpkg(root: &Path, args: &[&str]) -> String {
    run(
        Command::new("dpkg")
            .arg(format!("--root={}", root.display()))
            .args(["--log=/dev/null", "--force-script-chrootless"])
            .args(args),
        &format!("dpkg {args:?}"),
    )
}

#[test]
fn the_deb_installs_and_purges_in_a_scratch_root() {
    // dpkg --root installs into a folder of its own with its own database;
    // the maintainer scripts work on $DPKG_ROOT (ldconfig -r), never on this
    // machine. The scratch root has no libc6 package: --force-depends.
    let root = work().join("dpkg-root");
    let _ = std::fs::remove_dir_all(&root);
    for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    let deb = deb().to_str().unwrap().to_owned();
    dpkg(&root, &["--force-depends", "-i", &deb]);
    let status = dpkg(&root, &["-s", "ducq"]);
    assert!(
        status.contains("\nStatus: install ok installed\n"),
        "{status}"
    );
    let lib = format!("/usr/lib/{}", multiarch());
    let listed = dpkg(&root, &["-L", "ducq"]);
    for path in [
        "/usr/bin/ducq-server".to_owned(),
        format!("{lib}/libducq.so.0"),
    ] {
        assert!(listed.lines().any(|l| l == path), "{path} not in\n{listed}");
    }
    // The root's loader cache knows the library by its SONAME.
    let cache = run(
        Command::new("ldconfig").arg("-r").arg(&root).arg("-p"),
        "ldconfig -p",
    );
    assert!(
        cache.contains("libducq.so.0 (") && cache.contains(&format!("=> {lib}/libducq.so.0\n")),
        "{cache}"
    );
    let installed = root.join("usr/bin/ducq-server");
    let version = run(
        Command::new(&installed).arg("--version"),
        "installed ducq-server",
    );
    assert_eq!(version, format!("ducq-server {VERSION}\n"));

    // Removed: the files go, the conffile stays until purged.
    dpkg(&root, &["-r", "ducq"]);
    assert!(!installed.exists());
    assert!(!root.join(&lib[1..]).join("libducq.so.0").exists());
    assert!(root.join("etc/default/ducq").is_file());
    let cache = run(
        Command::new("ldconfig").arg("-r").arg(&root).arg("-p"),
        "ldconfig -p",
    );
    assert!(!cache.contains("libducq"), "{cache}");
    dpkg(&root, &["-P", "ducq"]);
    assert!(!root.join("etc/default/ducq").exists());
    let status = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["-s", "ducq"])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1));
}
