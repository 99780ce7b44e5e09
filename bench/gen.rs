//! `cargo run --release --features ssr --example gen -- ROWS DIR`: writes the dataset of ROWS rows
//! as DIR/rows-ROWS.{csv,ods,xlsb}, DIR/rows-ROWS-shared.xlsx and DIR/rows-ROWS-inline.xlsx.

mod dataset;

use std::path::PathBuf;
use std::time::Instant;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args.next().ok_or("usage: gen ROWS DIR")?.replace('_', "").parse()?;
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "bench/out".into()));
    std::fs::create_dir_all(&dir)?;
    let step = |name: String, f: &dyn Fn(&std::path::Path) -> Result| {
        let path = dir.join(&name);
        let t = Instant::now();
        f(&path)?;
        eprintln!(
            "wrote {} ({} bytes) in {:.1}s",
            path.display(),
            std::fs::metadata(&path)?.len(),
            t.elapsed().as_secs_f64()
        );
        Result::Ok(())
    };
    step(format!("rows-{rows}.csv"), &|p| Ok(dataset::write_csv(p, rows)?))?;
    step(format!("rows-{rows}-shared.xlsx"), &|p| Ok(dataset::write_xlsx(p, rows, dataset::Strings::Shared)?))?;
    step(format!("rows-{rows}-inline.xlsx"), &|p| Ok(dataset::write_xlsx(p, rows, dataset::Strings::Inline)?))?;
    step(format!("rows-{rows}.ods"), &|p| Ok(dataset::write_ods(p, rows)?))?;
    step(format!("rows-{rows}.xlsb"), &|p| Ok(dataset::write_xlsb(p, rows)?))?;
    Ok(())
}
