//! Builds sheetport's site without cargo-leptos: the server binary and the browser bundle at once
//! (two cargo processes side by side), then the bundle's last steps in-process: wasm-bindgen (its
//! CLI's library, at the Cargo.lock version; it also strips the function names), the JS minified
//! (npm's terser), the stylesheet and `public/` copied, the three files named by their hashes (`hash.txt`
//! beside the server binary, where Leptos reads them) and, with `--precompress`, a `.br` and a
//! `.gz` beside each file.
//!
//! Why not cargo-leptos on this path: compiling it took 16.5 of the 29.6 minutes from a fresh
//! clone to the first page (issue 26); this crate compiles in about a minute beside the server.
//! `cargo leptos watch` still works for development: this produces the same site layout.
//!
//! `cargo xtask build [--release] [--precompress] [--server-only | --site-only]`

mod site;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Instant;

/// One build as asked for on the command line.
#[derive(Clone, Copy)]
pub struct Build {
    /// The release profiles (server: `release`; bundle: `wasm-release`, then terser).
    pub release: bool,
    /// A `.br` and a `.gz` beside every file of the site.
    pub precompress: bool,
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    if command != "build" {
        bail!("usage: cargo xtask build [--release] [--precompress] [--server-only | --site-only]");
    }
    let (mut build, mut server, mut bundle) = (Build { release: false, precompress: false }, true, true);
    for arg in args {
        match arg.as_str() {
            "--release" => build.release = true,
            "--precompress" => build.precompress = true,
            "--server-only" => bundle = false,
            "--site-only" => server = false,
            other => bail!("unknown argument {other:?}"),
        }
    }
    let root = workspace_root()?;
    let target = target_dir(&root);
    let started = Instant::now();
    // The two compiles overlap: each spends long stretches in one crate on one core (sheetport
    // itself, the bundle's LTO), so together they keep both cores busy.
    let mut server_build = server.then(|| cargo_server(&root, build)).transpose()?;
    let site = || -> Result<()> {
        let mut wasm = cargo_wasm(&root, build)?;
        wait(&mut wasm, "the browser bundle")?;
        let wasm_file = target
            .join("wasm32-unknown-unknown")
            .join(if build.release { "wasm-release" } else { "wasm-dev" })
            .join("sheetport.wasm");
        site::make(&root, &wasm_file, &profile_dir(&target, build), build)
    };
    if let Err(error) = bundle.then(site).transpose() {
        // Not left compiling on its own after the command failed.
        if let Some(child) = server_build.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        return Err(error);
    }
    if let Some(mut child) = server_build {
        wait(&mut child, "the server")?;
    }
    eprintln!("xtask: built in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The workspace root: this crate's parent folder.
fn workspace_root() -> Result<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Ok(manifest.parent().context("xtask has no parent folder")?.to_path_buf())
}

/// Where cargo puts its builds: `CARGO_TARGET_DIR`, or the workspace's `target`.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"))
}

/// The server binary's folder, where `hash.txt` goes.
fn profile_dir(target: &Path, build: Build) -> PathBuf {
    target.join(if build.release { "release" } else { "debug" })
}

/// A cargo command in the workspace (its settings come from .cargo/config.toml).
fn cargo(root: &Path) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root);
    command
}

/// The server binary: `cargo build-server` (an alias in .cargo/config.toml).
fn cargo_server(root: &Path, build: Build) -> Result<Child> {
    let mut command = cargo(root);
    command.arg("build-server");
    if build.release {
        command.arg("--release");
    }
    command.spawn().context("could not start cargo for the server")
}

/// The browser bundle: `cargo build-bundle` (an alias in .cargo/config.toml).
fn cargo_wasm(root: &Path, build: Build) -> Result<Child> {
    let mut command = cargo(root);
    command.args(["build-bundle", "--profile", if build.release { "wasm-release" } else { "wasm-dev" }]);
    command.spawn().context("could not start cargo for the browser bundle")
}

fn wait(child: &mut Child, what: &str) -> Result<()> {
    let status = child.wait()?;
    if !status.success() {
        bail!("building {what} failed ({status})");
    }
    Ok(())
}
