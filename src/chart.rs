//! The monitor as a picture (SVG, drawn with plotters): homes per corporation and per
//! municipality against the art. 11 quota, and the waiting time from referral to key handover
//! per municipality. Suppressed counts are labelled, never drawn as a value.

use plotters::coord::ranged1d::SegmentedCoord;
use plotters::prelude::*;

use crate::monitor::{Cell, Homes, Monitor};

/// Renders the monitor's chart as an SVG document.
pub fn monitor_svg(monitor: &Monitor) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 1260)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let title = format!(
            "Uitstroom Westfriesland — monitor {} (counts below {} not shown)",
            monitor.period, monitor.threshold
        );
        let root = root
            .titled(&title, ("sans-serif", 22))
            .map_err(|e| e.to_string())?;
        let panels = root.split_evenly((3, 1));
        homes_panel(
            &panels[0],
            "Homes per corporation against quota (art. 11)",
            &monitor.homes_by_corporation,
            monitor.threshold,
        )?;
        homes_panel(
            &panels[1],
            "Homes per municipality against quota (art. 11)",
            &monitor.homes_by_municipality,
            monitor.threshold,
        )?;
        waiting_panel(&panels[2], monitor)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

type Panel<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<
        SegmentedCoord<plotters::coord::types::RangedCoordu32>,
        plotters::coord::types::RangedCoordf64,
    >,
>;

/// A captioned chart with one segment per label on x and `0..top` on y, its mesh drawn.
fn panel<'a, 'b>(
    area: &'a Area<'b>,
    caption: &str,
    labels: &[&String],
    top: f64,
    y_desc: &str,
) -> Result<Panel<'a, 'b>, String> {
    // A segmented range is inclusive: `0..last` gives one segment per label.
    let last = labels.len().max(1) as u32 - 1;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d((0u32..last).into_segmented(), 0f64..top)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(labels.len())
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => labels
                .get(*i as usize)
                .map_or(String::new(), |s| (*s).clone()),
            _ => String::new(),
        })
        .y_desc(y_desc)
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(chart)
}

/// The panel's legend, upper right.
fn legend<'a, 'b: 'a>(chart: &mut Panel<'a, 'b>) -> Result<(), String> {
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| e.to_string())
}

fn homes_panel(
    area: &Area<'_>,
    caption: &str,
    rows: &std::collections::BTreeMap<String, Homes>,
    threshold: u32,
) -> Result<(), String> {
    let labels: Vec<&String> = rows.keys().collect();
    let top = rows
        .values()
        .map(|h| h.homes.count().unwrap_or(0) as f64)
        .chain(rows.values().map(|h| h.quota))
        .fold(1.0, f64::max)
        * 1.15;
    let mut chart = panel(area, caption, &labels, top, "homes")?;
    let homes_colour = RGBColor(31, 119, 180);
    chart
        .draw_series(rows.values().enumerate().filter_map(|(i, h)| {
            let v = h.homes.count()? as f64;
            let i = i as u32;
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), v),
                ],
                homes_colour.filled(),
            );
            bar.set_margin(0, 0, 12, 12);
            Some(bar)
        }))
        .map_err(|e| e.to_string())?
        .label("homes with keys handed over")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], homes_colour.filled()));
    chart
        .draw_series(rows.values().enumerate().map(|(i, h)| {
            let i = i as u32;
            PathElement::new(
                vec![
                    (SegmentValue::Exact(i), h.quota),
                    (SegmentValue::Exact(i + 1), h.quota),
                ],
                RED.stroke_width(3),
            )
        }))
        .map_err(|e| e.to_string())?
        .label("quota for the period")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], RED.stroke_width(3)));
    chart
        .draw_series(rows.values().enumerate().filter_map(|(i, h)| {
            let text = match (h.homes, h.quota_met) {
                (Cell::Count(_), _) => return None,
                (other, None) => other.show(threshold),
                (other, Some(true)) => format!("{}, quota met", other.show(threshold)),
                (other, Some(false)) => format!("{}, not met", other.show(threshold)),
            };
            Some(Text::new(
                text,
                (SegmentValue::CenterOf(i as u32), top * 0.04),
                ("sans-serif", 14),
            ))
        }))
        .map_err(|e| e.to_string())?;
    legend(&mut chart)
}

fn waiting_panel(area: &Area<'_>, monitor: &Monitor) -> Result<(), String> {
    let rows: Vec<(&String, &Homes)> = monitor.homes_by_municipality.iter().collect();
    let labels: Vec<&String> = rows.iter().map(|(k, _)| *k).collect();
    let top = rows
        .iter()
        .filter_map(|(_, h)| h.waiting.q3_days)
        .fold(30.0, f64::max)
        * 1.15;
    let mut chart = panel(
        area,
        "Waiting time from referral to key handover per municipality (days: quartiles and median)",
        &labels,
        top,
        "days",
    )?;
    let boxes = RGBColor(44, 160, 44);
    chart
        .draw_series(rows.iter().enumerate().filter_map(|(i, (_, h))| {
            let (q1, q3) = (h.waiting.q1_days?, h.waiting.q3_days?);
            let i = i as u32;
            let mut r = Rectangle::new(
                [
                    (SegmentValue::Exact(i), q1),
                    (SegmentValue::Exact(i + 1), q3),
                ],
                boxes.mix(0.5).filled(),
            );
            r.set_margin(0, 0, 20, 20);
            Some(r)
        }))
        .map_err(|e| e.to_string())?
        .label("first to third quartile")
        .legend(move |(x, y)| {
            Rectangle::new([(x, y - 5), (x + 12, y + 5)], boxes.mix(0.5).filled())
        });
    chart
        .draw_series(rows.iter().enumerate().filter_map(|(i, (_, h))| {
            let m = h.waiting.median_days?;
            let i = i as u32;
            Some(PathElement::new(
                vec![(SegmentValue::Exact(i), m), (SegmentValue::Exact(i + 1), m)],
                BLACK.stroke_width(3),
            ))
        }))
        .map_err(|e| e.to_string())?
        .label("median")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK.stroke_width(3)));
    chart
        .draw_series(rows.iter().enumerate().filter_map(|(i, (_, h))| {
            if h.waiting.median_days.is_some() {
                return None;
            }
            Some(Text::new(
                format!("{} homes", h.homes.show(monitor.threshold)),
                (SegmentValue::CenterOf(i as u32), top * 0.04),
                ("sans-serif", 13),
            ))
        }))
        .map_err(|e| e.to_string())?;
    legend(&mut chart)
}
