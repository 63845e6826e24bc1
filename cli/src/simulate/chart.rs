//! The SVG chart of `redial simulate`: offered load (top) and successful answers (bottom)
//! over time, one line per policy, with the incident shaded.
//!
//! Drawn with plotters' SVG backend. Text is laid out with plotters' built-in estimate
//! (no font files are read) and rendered by whatever shows the SVG.

use std::fmt::Display;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use redial_sim::{Bucket, Report, Scenario};

/// At most this many points per line: a long run's buckets are merged, so the file stays
/// small and the lines readable.
const MAX_POINTS: usize = 1200;

/// Tableau 10: distinct for most colour vision, and none is pale on white.
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 760;

fn err(e: impl Display) -> String {
    e.to_string()
}

/// Writes the chart of `reports` (all from `scenario`) to `path`.
pub fn draw(
    path: &Path,
    title: &str,
    scenario: &Scenario,
    reports: &[Report],
) -> Result<(), String> {
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(title, ("sans-serif", 18)).map_err(err)?;
    let (top, bottom) = root.split_vertically(HEIGHT / 2 - 20);
    let incident = scenario
        .incident_start()
        .zip(scenario.incident_end())
        .map(|(s, e)| (s.as_secs_f64(), e.as_secs_f64()));
    // The chart ends when arrivals stop: after that only the last calls' retries trickle
    // in, and the last bucket, partly empty, would read as a collapse.
    let x_end = scenario.duration.as_secs_f64();

    // The first attempts are the same for every policy (same seed, same arrivals): the
    // load the fleet would send if nobody retried.
    let baseline = reports
        .first()
        .map(|r| series(r, x_end, |b| b.first_attempts));
    let load = Panel {
        caption: "offered load: attempts reaching the server",
        y_label: "attempts/s",
        x_end,
        incident,
        capacity: Some(scenario.server.capacity),
        baseline,
    };
    load.draw(&top, reports, Bucket::attempts)?;
    let success = Panel {
        caption: "successful answers",
        y_label: "successes/s",
        x_end,
        incident,
        capacity: None,
        baseline: None,
    };
    success.draw(&bottom, reports, |b| b.successes)?;
    root.present().map_err(err)
}

/// Per-second rates of `count` over time, as (seconds, rate) points, for the buckets that
/// start before `end` (seconds).
fn series(report: &Report, end: f64, count: impl Fn(&Bucket) -> u64) -> Vec<(f64, f64)> {
    let width = report.bucket.as_secs_f64();
    let shown = ((end / width).ceil() as usize).min(report.buckets.len());
    let buckets = report.buckets.get(..shown).unwrap_or(&[]);
    let merge = buckets.len().div_ceil(MAX_POINTS).max(1);
    buckets
        .chunks(merge)
        .enumerate()
        .map(|(i, chunk)| {
            let total: u64 = chunk.iter().map(&count).sum();
            let span = width * chunk.len() as f64;
            ((i * merge) as f64 * width, total as f64 / span)
        })
        .collect()
}

struct Panel {
    caption: &'static str,
    y_label: &'static str,
    x_end: f64,
    incident: Option<(f64, f64)>,
    capacity: Option<f64>,
    baseline: Option<Vec<(f64, f64)>>,
}

impl Panel {
    fn draw(
        &self,
        area: &DrawingArea<SVGBackend<'_>, Shift>,
        reports: &[Report],
        count: fn(&Bucket) -> u64,
    ) -> Result<(), String> {
        let lines: Vec<(&str, Vec<(f64, f64)>)> = reports
            .iter()
            .map(|r| (r.label.as_str(), series(r, self.x_end, count)))
            .collect();
        let peak = lines
            .iter()
            .flat_map(|(_, points)| points.iter().map(|p| p.1))
            .chain(self.capacity)
            .fold(1.0, f64::max);
        let y_end = peak * 1.15;

        let mut chart = ChartBuilder::on(area)
            .caption(self.caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..self.x_end, 0.0..y_end)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc(self.y_label)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;

        if let Some((start, end)) = self.incident {
            let shade = RED.mix(0.08).filled();
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(start, 0.0), (end.min(self.x_end), y_end)],
                    shade,
                )))
                .map_err(err)?
                .label("incident")
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], shade));
        }
        if let Some(capacity) = self.capacity {
            let style = BLACK.mix(0.5).stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, capacity), (self.x_end, capacity)],
                    6,
                    4,
                    style,
                ))
                .map_err(err)?
                .label("server capacity")
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
        }
        if let Some(points) = &self.baseline {
            let style = BLACK.mix(0.35).stroke_width(1);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), style))
                .map_err(err)?
                .label("first attempts (no retries)")
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
        }
        // Policies often agree for long stretches: earlier lines are drawn wider, so a line
        // hidden under a later one still shows at its edges.
        let n = lines.len();
        for (i, (label, points)) in lines.into_iter().enumerate() {
            let width = 2 + 2 * (n - 1 - i).min(3) as u32;
            let colour = COLOURS.get(i % COLOURS.len()).copied().unwrap_or(BLACK);
            let style = colour.stroke_width(width);
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn long_runs_are_merged_into_at_most_max_points() {
        let mut s = Scenario::healthy();
        s.clients = 5;
        s.duration = Duration::from_secs(30);
        s.bucket = Duration::from_millis(10);
        let r = redial_sim::run(&s, "x", &redial::Policy::default()).unwrap();
        let points = series(&r, 30.0, |b| b.first_attempts);
        assert!(points.len() <= MAX_POINTS);
        // Rates, not counts: 100 calls a second on average.
        let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
        assert!((80.0..120.0).contains(&mean), "{mean}");
    }
}
