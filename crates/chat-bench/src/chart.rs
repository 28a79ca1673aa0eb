//! The comparison chart of `bench suite`: four bar panels in one SVG (no fonts needed).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::BenchError;
use crate::report::LoadReport;
use crate::suite::{SuiteResults, write_file};

/// Colour of the "all send" bars.
const ALL_SEND: RGBColor = RGBColor(0x33, 0x66, 0xcc);
/// Colour of the "fan-out" bars.
const FAN_OUT: RGBColor = RGBColor(0xee, 0x88, 0x22);
/// Colour of the idle-memory bars.
const IDLE: RGBColor = RGBColor(0x44, 0x99, 0x55);

/// One series of bars: a name, a colour, one optional value per server.
struct Series {
    name: String,
    color: RGBColor,
    values: Vec<Option<f64>>,
}

/// One panel.
struct Panel {
    title: &'static str,
    unit: &'static str,
    series: Vec<Series>,
}

/// Short label of a server under its bars.
fn short(server: &str) -> String {
    server.strip_suffix("_chat").unwrap_or(server).to_string()
}

/// `1.5M`, `120k`, `85`, `3.2` — short enough to sit on a bar.
pub fn compact(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn panels(r: &SuiteResults) -> Vec<Panel> {
    let load = |pick: fn(&LoadReport) -> Option<f64>, fan: bool| -> Vec<Option<f64>> {
        r.servers
            .iter()
            .map(|s| {
                if fan { &s.fan_out } else { &s.all_send }
                    .as_ref()
                    .and_then(pick)
            })
            .collect()
    };
    let two = |pick: fn(&LoadReport) -> Option<f64>| {
        vec![
            Series {
                name: format!(
                    "all send ({} clients x {} msgs)",
                    r.plan.all_clients, r.plan.all_messages
                ),
                color: ALL_SEND,
                values: load(pick, false),
            },
            Series {
                name: format!(
                    "fan-out ({} clients, {} x {} msgs)",
                    r.plan.fanout_clients, r.plan.fanout_senders, r.plan.fanout_messages
                ),
                color: FAN_OUT,
                values: load(pick, true),
            },
        ]
    };
    vec![
        Panel {
            title: "deliveries per second (higher is better)",
            unit: "deliveries/s",
            series: two(|l| Some(l.deliveries_per_s)),
        },
        Panel {
            title: "server CPU per delivery (lower is better)",
            unit: "ns",
            series: two(|l| l.server.as_ref().and_then(|s| s.cpu_ns_per_delivery)),
        },
        Panel {
            title: "p99 latency (lower is better)",
            unit: "ms",
            series: two(|l| Some(l.latency.p99_us / 1_000.0)),
        },
        Panel {
            title: "server memory per idle logged-in connection (lower is better)",
            unit: "KiB",
            series: vec![Series {
                name: format!("{} idle connections", r.plan.idle_connections),
                color: IDLE,
                values: r
                    .servers
                    .iter()
                    .map(|s| {
                        s.idle
                            .as_ref()
                            .and_then(|i| i.rss_per_connection_bytes)
                            .map(|b| b / 1024.0)
                    })
                    .collect(),
            }],
        },
    ]
}

/// Draws the chart of `results` into the SVG file `path` (its directory is created).
pub fn draw(path: &Path, results: &SuiteResults) -> Result<(), BenchError> {
    let svg = render(results)?;
    write_file(&path.to_path_buf(), svg.as_bytes())
}

/// Renders the chart as SVG text.
pub fn render(results: &SuiteResults) -> Result<String, BenchError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1400, 1000)).into_drawing_area();
        draw_on(&root, results).map_err(|e| BenchError::Chart(e.to_string()))?;
        root.present()
            .map_err(|e| BenchError::Chart(e.to_string()))?;
    }
    Ok(svg)
}

type DrawResult =
    Result<(), DrawingAreaErrorKind<<SVGBackend<'static> as DrawingBackend>::ErrorType>>;

fn draw_on(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    r: &SuiteResults,
) -> DrawResult {
    root.fill(&WHITE)?;
    let root = root.margin(12, 8, 8, 8);
    let title = format!(
        "async-chat bench suite: {} CPUs, server and bench on the same machine",
        r.cpus
    );
    let root = root.titled(&title, ("sans-serif", 24))?;
    let names: Vec<String> = r.servers.iter().map(|s| short(&s.server)).collect();
    let n = names.len().max(1);
    for (area, panel) in root.split_evenly((2, 2)).iter().zip(panels(r)) {
        let top = panel
            .series
            .iter()
            .flat_map(|s| s.values.iter().flatten())
            .fold(0.0f64, |a, &b| a.max(b));
        // Headroom for the value labels and the legend.
        let top = if top > 0.0 { top * 1.35 } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .caption(panel.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..top)?;
        let label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.15))
            .x_labels(n)
            .x_label_formatter(&label)
            .y_desc(panel.unit)
            .y_label_formatter(&|v| compact(*v))
            .draw()?;
        let count = panel.series.len() as f64;
        let width = 0.8 / count;
        for (k, series) in panel.series.iter().enumerate() {
            let color = series.color;
            let x0 = |i: usize| i as f64 - 0.4 + k as f64 * width;
            let bars: Vec<(usize, f64)> = series
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i, v)))
                .collect();
            chart
                .draw_series(bars.iter().map(|&(i, v)| {
                    Rectangle::new(
                        [(x0(i) + 0.02, 0.0), (x0(i) + width - 0.02, v)],
                        color.filled(),
                    )
                }))?
                .label(series.name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 12, y + 6)], color.filled())
                });
            let font = ("sans-serif", 12)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            chart
                .draw_series(bars.iter().map(|&(i, v)| {
                    Text::new(compact(v), (x0(i) + width / 2.0, v), font.clone())
                }))?;
            let missing: Vec<usize> = series
                .values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_none())
                .map(|(i, _)| i)
                .collect();
            chart.draw_series(
                missing
                    .iter()
                    .map(|&i| Text::new("n/a", (x0(i) + width / 2.0, 0.0), font.clone())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 13))
            .draw()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::tests::sample_results;

    #[test]
    fn formats_bar_labels() {
        assert_eq!(compact(1_523_000.0), "1.52M");
        assert_eq!(compact(67_000.0), "67k");
        assert_eq!(compact(118.4), "118");
        assert_eq!(compact(12.34), "12.3");
        assert_eq!(compact(1.5), "1.50");
        assert_eq!(compact(0.0), "0");
    }

    #[test]
    fn renders_every_panel_server_and_value() {
        let svg = render(&sample_results()).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
        // The SVG backend writes each text on its own line inside <text>...</text>.
        let texts: Vec<&str> = svg
            .split("<text")
            .skip(1)
            .filter_map(|t| t.split_once(">\n")?.1.split_once("\n</text>"))
            .map(|(inner, _)| inner)
            .collect();
        for text in [
            "deliveries per second (higher is better)",
            "server CPU per delivery (lower is better)",
            "p99 latency (lower is better)",
            "server memory per idle logged-in connection (lower is better)",
            "tokio",
            "smol_ws",
            "all send (100 clients x 100 msgs)",
            "1.50M",
            "110",
            "4.00",
            "1.50",
            "n/a",
        ] {
            assert!(texts.contains(&text), "missing {text:?} in {texts:?}");
        }
    }

    #[test]
    fn writes_the_file_and_its_directory() {
        let dir = std::env::temp_dir().join(format!("chat-bench-chart-{}", std::process::id()));
        let path = dir.join("img").join("bench.svg");
        draw(&path, &sample_results()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("</svg>"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
