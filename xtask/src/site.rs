//! The site from the compiled browser bundle: `target/site/pkg/sheetport.<hash>.{js,wasm,css}`,
//! `public/` at the site's root, `hash.txt` beside the server binary, and optionally each file
//! precompressed. The layout and names are cargo-leptos' (`hash-files = true`): Leptos' own
//! `HydrationScripts` and `HashedStylesheet` read `hash.txt`, and the server's cache rule knows a
//! hashed name by its 22 characters of unpadded base64url MD5.
//!
//! The site is made in a folder beside the live one and swapped in at the end, so a failed build
//! leaves the last good site; and it is not made again when nothing it is made from changed (a
//! stamp of the inputs): a restart of `serve.sh` with nothing changed does no work here.

use crate::Build;
use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use md5::{Digest, Md5};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use wasm_bindgen_cli_support::Bindgen;

/// The name Leptos is built with (`LEPTOS_OUTPUT_NAME`) and the site's files are named after.
const NAME: &str = "sheetport";

/// Makes the site under `<root>/target/site` from `wasm` (the bundle cargo built) and writes
/// `hash.txt` into `bin_dir`.
pub fn make(root: &Path, wasm: &Path, bin_dir: &Path, build: Build) -> Result<()> {
    let site = root.join("target").join("site");
    let pkg = site.join("pkg");
    let stamp_file = site.join(".stamp");
    let style = root.join("style").join("main.css");
    let public = root.join("public");
    let stamp = stamp(wasm, &style, &public, build)?;
    let hashes = bin_dir.join("hash.txt");
    if fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str())
        && fs::read_to_string(&hashes).ok().is_some_and(|h| all_present(&pkg, &h))
    {
        eprintln!("xtask: the site is up to date");
        return Ok(());
    }
    let started = Instant::now();
    let staging = site.join(".pkg-new");
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    fs::create_dir_all(&staging)?;

    let mut output = Bindgen::new()
        .input_path(wasm)
        .out_name(NAME)
        .web(true)?
        .typescript(false)
        .debug(false)
        .keep_debug(false)
        // Function names are a third of the file, and all wasm-opt -Oz did that mattered: with the
        // names gone, the brotli'd WASM is 340 KB; through wasm-opt -Oz (47 s) 367 KB, since its
        // smaller file compresses worse (measured on this bundle, npm binaryen 132, 2026-12-07).
        .remove_name_section(true)
        .remove_producers_section(true)
        .generate_output()
        .context("wasm-bindgen could not read the bundle")?;
    output.emit(&staging).context("wasm-bindgen could not write the bundle")?;
    let bindgen = started.elapsed();
    // wasm-bindgen names it `<name>_bg.wasm`; Leptos asks for `<name>.wasm` (as cargo-leptos renames it).
    let wasm_out = staging.join(format!("{NAME}.wasm"));
    fs::rename(staging.join(format!("{NAME}_bg.wasm")), &wasm_out)?;
    let js_out = staging.join(format!("{NAME}.js"));
    if build.release {
        minify(root, &js_out)?;
    }
    fs::copy(&style, staging.join(format!("{NAME}.css"))).context("could not copy style/main.css")?;

    let mut lines = String::new();
    for ext in ["js", "wasm", "css"] {
        let plain = staging.join(format!("{NAME}.{ext}"));
        let hash = URL_SAFE_NO_PAD.encode(Md5::digest(fs::read(&plain)?));
        fs::rename(&plain, staging.join(format!("{NAME}.{hash}.{ext}")))?;
        lines.push_str(&format!("{ext}: {hash}\n"));
    }
    let copied = copy_public(&public, &site)?;
    let compressing = Instant::now();
    if build.precompress {
        let mut files = files_under(&staging)?;
        files.extend(copied);
        precompress(&files)?;
    }
    let compressed = compressing.elapsed();

    // Swap the new bundle in: the old folder aside, the new one in its place, the old one gone.
    let old = site.join(".pkg-old");
    if old.exists() {
        fs::remove_dir_all(&old)?;
    }
    if pkg.exists() {
        fs::rename(&pkg, &old)?;
    }
    fs::rename(&staging, &pkg)?;
    if old.exists() {
        fs::remove_dir_all(&old)?;
    }
    fs::create_dir_all(bin_dir)?;
    fs::write(&hashes, &lines)?;
    fs::write(&stamp_file, &stamp)?;
    let size = |ext: &str| fs::metadata(pkg.join(hashed_name(&lines, ext))).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "xtask: site made in {:.1} s (wasm-bindgen {:.1} s, precompressing {:.1} s; WASM {} KiB, JS {} KiB, CSS {} KiB)",
        started.elapsed().as_secs_f64(),
        bindgen.as_secs_f64(),
        compressed.as_secs_f64(),
        size("wasm") / 1024,
        size("js") / 1024,
        size("css") / 1024
    );
    Ok(())
}

/// What the site is made from, in one line: the bundle's, the stylesheet's and `public/`'s
/// contents and the kind of build.
fn stamp(wasm: &Path, style: &Path, public: &Path, build: Build) -> Result<String> {
    let mut hasher = Md5::new();
    hasher.update(fs::read(wasm).with_context(|| format!("no bundle at {}", wasm.display()))?);
    hasher.update(fs::read(style)?);
    for file in files_under(public)? {
        hasher.update(file.strip_prefix(public)?.to_string_lossy().as_bytes());
        hasher.update(fs::read(&file)?);
    }
    let hash = URL_SAFE_NO_PAD.encode(hasher.finalize());
    Ok(format!(
        "{hash} release={} precompress={} xtask={}\n",
        build.release,
        build.precompress,
        env!("CARGO_PKG_VERSION")
    ))
}

/// `sheetport.<hash>.<ext>` as `hash.txt` names it.
fn hashed_name(hashes: &str, ext: &str) -> String {
    let hash = hashes.lines().find_map(|l| l.strip_prefix(ext).and_then(|r| r.strip_prefix(": "))).unwrap_or_default();
    format!("{NAME}.{hash}.{ext}")
}

/// Whether every file `hash.txt` names is in the site (someone may have cleaned it).
fn all_present(pkg: &Path, hashes: &str) -> bool {
    ["js", "wasm", "css"].iter().all(|ext| pkg.join(hashed_name(hashes, ext)).exists())
}

/// The glue JS through npm's terser, as cargo-leptos minifies it with swc in release builds.
fn minify(root: &Path, js: &Path) -> Result<()> {
    let tool = root.join("tools").join("node_modules").join(".bin").join("terser");
    let status = Command::new(&tool)
        .arg(js)
        .args(["--module", "--compress", "--mangle", "--output"])
        .arg(js)
        .status()
        .with_context(|| format!("could not run {} (npm ci --prefix tools installs it)", tool.display()))?;
    if !status.success() {
        bail!("terser failed ({status})");
    }
    Ok(())
}

/// `public/` copied into the site's root; the files written.
fn copy_public(public: &Path, site: &Path) -> Result<Vec<PathBuf>> {
    let mut copied = Vec::new();
    for file in files_under(public)? {
        let to = site.join(file.strip_prefix(public)?);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(&file, &to)?;
        copied.push(to);
    }
    Ok(copied)
}

/// Every file below `dir` (none if it does not exist), in a stable order.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = fs::read_dir(&folder) else { continue };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// A `.br` (brotli's highest quality) and a `.gz` (gzip's) beside each file, one thread per file:
/// the WASM's brotli is most of the time.
fn precompress(files: &[PathBuf]) -> Result<()> {
    std::thread::scope(|scope| {
        let jobs: Vec<_> = files
            .iter()
            .filter(|f| !matches!(f.extension().and_then(|e| e.to_str()), Some("br" | "gz")))
            .map(|file| scope.spawn(move || compress(file)))
            .collect();
        jobs.into_iter().try_for_each(|job| job.join().unwrap_or_else(|_| bail!("a compression thread panicked")))
    })
}

fn compress(file: &Path) -> Result<()> {
    let bytes = fs::read(file)?;
    let with = |ext: &str| {
        let mut name = file.as_os_str().to_owned();
        name.push(ext);
        PathBuf::from(name)
    };
    let mut br = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 24, ..Default::default() };
    brotli::BrotliCompress(&mut bytes.as_slice(), &mut br, &params)?;
    fs::write(with(".br"), br)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes)?;
    fs::write(with(".gz"), gz.finish()?)?;
    Ok(())
}
