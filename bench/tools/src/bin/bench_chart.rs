//! Turns `bench/results.jsonl` (from `bench/run.sh`) into the Markdown table of BENCHMARKS.md and
//! a bar chart (`bench/chart.svg`: requests/s and p99 per configuration, median of the rounds).
//!
//! ```sh
//! cargo run --release -p stripe-pulsora-bench --bin bench_chart -- bench/results.jsonl bench/chart.svg
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

struct Row {
    label: String,
    rps: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    rss_mib: f64,
    non_200: f64,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let input = args.get(1).map_or("bench/results.jsonl", String::as_str);
    let output = args.get(2).map_or("bench/chart.svg", String::as_str);
    let text = std::fs::read_to_string(input).unwrap_or_else(|e| panic!("{input}: {e}"));

    let mut order = Vec::new();
    let mut runs: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let run: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let label = run["label"].as_str().unwrap_or("?").to_owned();
        if !runs.contains_key(&label) {
            order.push(label.clone());
        }
        runs.entry(label).or_default().push(run);
    }
    let field = |runs: &[serde_json::Value], name: &str| {
        median(
            runs.iter()
                .map(|r| r[name].as_f64().unwrap_or(0.0))
                .collect(),
        )
    };
    let rows: Vec<Row> = order
        .iter()
        .map(|label| {
            let r = &runs[label];
            Row {
                label: label.clone(),
                rps: field(r, "rps"),
                p50: field(r, "p50_us"),
                p99: field(r, "p99_us"),
                p999: field(r, "p999_us"),
                rss_mib: field(r, "server_peak_rss_kib") / 1024.0,
                non_200: field(r, "non_200"),
            }
        })
        .collect();
    let bare = rows
        .iter()
        .find(|r| r.label.starts_with("bare"))
        .map_or(1.0, |r| r.rps);
    let bare_p99 = rows
        .iter()
        .find(|r| r.label.starts_with("bare"))
        .map_or(1.0, |r| r.p99);
    let node = rows
        .iter()
        .find(|r| r.label.starts_with("Node"))
        .map_or(1.0, |r| r.rps);

    println!("| configuration | requests/s | vs bare | vs Node | p50 | p99 | p99 vs bare | p99.9 | server peak RSS | non-200 |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.0} | {:.0}% | {:.1}× | {:.2} ms | {:.2} ms | {:.2}× | {:.2} ms | {:.1} MiB | {:.0} |",
            r.label,
            r.rps,
            100.0 * r.rps / bare,
            r.rps / node,
            r.p50 / 1000.0,
            r.p99 / 1000.0,
            r.p99 / bare_p99,
            r.p999 / 1000.0,
            r.rss_mib,
            r.non_200
        );
    }

    // Two horizontal bar groups: requests/s and p99, one bar per configuration.
    let (width, bar_h, gap, left) = (900.0, 22.0, 8.0, 300.0);
    let group_h = rows.len() as f64 * (bar_h + gap);
    let height = 2.0 * group_h + 140.0;
    let max_rps = rows.iter().map(|r| r.rps).fold(1.0, f64::max);
    let max_p99 = rows.iter().map(|r| r.p99).fold(1.0, f64::max);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="13">"#
    );
    let _ = write!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (g, (title, max, value, unit)) in [
        (
            "Throughput (requests/s, higher is better)",
            max_rps,
            0usize,
            "",
        ),
        ("p99 latency (ms, lower is better)", max_p99, 1usize, " ms"),
    ]
    .into_iter()
    .enumerate()
    {
        let top = 30.0 + g as f64 * (group_h + 60.0);
        let _ = write!(
            svg,
            r#"<text x="10" y="{top}" font-weight="bold">{title}</text>"#
        );
        for (i, r) in rows.iter().enumerate() {
            let y = top + 12.0 + i as f64 * (bar_h + gap);
            let v = if value == 0 { r.rps } else { r.p99 / 1000.0 };
            let scale = if value == 0 { max } else { max / 1000.0 };
            let w = (width - left - 110.0) * v / scale;
            let color = if r.label.starts_with("Node") {
                "#b0b0b0"
            } else if r.label.starts_with("bare") {
                "#6c8ebf"
            } else {
                "#d79b00"
            };
            let _ = write!(svg, r#"<text x="10" y="{}">{}</text>"#, y + 16.0, r.label);
            let _ = write!(
                svg,
                r#"<rect x="{left}" y="{y}" width="{w:.1}" height="{bar_h}" fill="{color}"/>"#
            );
            let shown = if value == 0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}{unit}")
            };
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{}">{shown}</text>"#,
                left + w + 6.0,
                y + 16.0
            );
        }
    }
    svg.push_str("</svg>\n");
    std::fs::write(output, svg).unwrap_or_else(|e| panic!("{output}: {e}"));
    eprintln!("wrote {output}");
}
