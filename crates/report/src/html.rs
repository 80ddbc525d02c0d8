//! The report page: one HTML file with every chart embedded, readable offline.
//!
//! No script, no external style sheet, font or image: the page is opened from disk, sent
//! by e-mail or archived, and shows the same thing. Every text that comes from a file is
//! escaped.

use base64::Engine;

use crate::charts::{group_count, Rendered};

/// A chart on the page.
pub struct Figure {
    /// The file stem under `charts/` and the element id.
    pub name: &'static str,
    pub title: String,
    pub caption: String,
    pub rendered: Rendered,
}

/// A segment's card.
pub struct Card {
    pub index: usize,
    pub name: String,
    pub customers: u64,
    pub share: f64,
    /// What the group is; for "other" and noise, said in words instead of features.
    pub about: Option<String>,
    /// (feature, description)
    pub features: Vec<(String, String)>,
    /// (product, share of the group it is recommended to)
    pub products: Vec<(String, f64)>,
    /// (metric, value)
    pub metrics: Vec<(String, f64)>,
}

/// A row of a table: a name and its cells.
pub struct Row {
    pub name: String,
    pub cells: Vec<Option<f64>>,
}

pub struct Table {
    pub caption: String,
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

pub struct Page {
    pub title: String,
    pub summary: Vec<String>,
    pub privacy: Vec<String>,
    pub cards: Vec<Card>,
    pub figures: Vec<Figure>,
    pub tables: Vec<Table>,
    pub gate: Option<String>,
    pub footer: String,
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --ink: #212529; --muted: #5c636a; --line: #dee2e6; --card: #f8f9fa; --accent: #1f77b4; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1120px; padding: 24px; line-height: 1.45; }
h1 { font-size: 1.9rem; margin: 0 0 .3rem; }
h2 { font-size: 1.35rem; margin: 2.2rem 0 .8rem; border-bottom: 2px solid var(--line); padding-bottom: .3rem; }
h3 { font-size: 1.05rem; margin: 0 0 .4rem; }
h4 { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: .9rem 0 .3rem; }
.summary { color: var(--muted); margin: 0; padding-left: 1.1rem; }
.notice { background: #fff3cd; border: 1px solid #ffe69c; border-radius: 6px; padding: .7rem 1rem; margin: 1rem 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 16px; }
.segment-card { background: var(--card); border: 1px solid var(--line); border-top: 4px solid var(--accent);
                border-radius: 8px; padding: 14px 16px; }
.segment-card .size { font-size: 1.5rem; font-weight: bold; margin: 0; }
.segment-card .share { color: var(--muted); }
.segment-card ul, .segment-card ol { margin: 0; padding-left: 1.2rem; }
figure { margin: 0 0 1.8rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: .92rem; margin-top: .3rem; }
table { border-collapse: collapse; margin: .4rem 0 1.4rem; font-size: .92rem; }
caption { text-align: left; color: var(--muted); padding-bottom: .4rem; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.blend td { font-weight: bold; }
.passed { color: #146c43; } .failed { color: #b02a37; }
footer { color: var(--muted); font-size: .85rem; margin-top: 2.5rem; border-top: 1px solid var(--line); padding-top: .6rem; }
"#;

pub fn render(page: &Page) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<title>{}</title>\n", escape(&page.title)));
    out.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    out.push_str(&format!(
        "<header>\n<h1>{}</h1>\n<ul class=\"summary\">\n",
        escape(&page.title)
    ));
    for line in &page.summary {
        out.push_str(&format!("<li>{}</li>\n", escape(line)));
    }
    out.push_str("</ul>\n</header>\n");
    if let Some(gate) = &page.gate {
        out.push_str(&format!("<p id=\"gate\">{gate}</p>\n"));
    }
    if !page.privacy.is_empty() {
        out.push_str("<section id=\"privacy\" class=\"notice\">\n");
        for line in &page.privacy {
            out.push_str(&format!("<p>{}</p>\n", escape(line)));
        }
        out.push_str("</section>\n");
    }

    out.push_str("<section id=\"segments\">\n<h2>Segments</h2>\n<div class=\"cards\">\n");
    for card in &page.cards {
        out.push_str(&card_html(card));
    }
    out.push_str("</div>\n</section>\n");

    out.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    for figure in &page.figures {
        let data = base64::engine::general_purpose::STANDARD.encode(&figure.rendered.png);
        out.push_str(&format!(
            "<figure id=\"chart-{name}\">\n<img src=\"data:image/png;base64,{data}\" \
             width=\"{w}\" height=\"{h}\" alt=\"{alt}\">\n<figcaption><strong>{title}.</strong> \
             {caption}</figcaption>\n</figure>\n",
            name = figure.name,
            w = figure.rendered.width,
            h = figure.rendered.height,
            alt = escape(&figure.title),
            title = escape(&figure.title),
            caption = escape(&figure.caption),
        ));
    }
    out.push_str("</section>\n");

    if !page.tables.is_empty() {
        out.push_str("<section id=\"metrics\">\n<h2>Metrics</h2>\n");
        for table in &page.tables {
            out.push_str(&table_html(table));
        }
        out.push_str("</section>\n");
    }
    out.push_str(&format!("<footer>{}</footer>\n", escape(&page.footer)));
    out.push_str("</body>\n</html>\n");
    out
}

fn card_html(card: &Card) -> String {
    let mut out = format!(
        "<article class=\"segment-card\" data-group=\"{}\">\n<h3>{}. {}</h3>\n\
         <p class=\"size\">{} <span class=\"share\">customers, {:.1} %</span></p>\n",
        card.index + 1,
        card.index + 1,
        escape(&card.name),
        group_count(card.customers),
        card.share * 100.0
    );
    if let Some(about) = &card.about {
        out.push_str(&format!("<p>{}</p>\n", escape(about)));
    }
    if !card.features.is_empty() {
        out.push_str("<h4>What sets them apart</h4>\n<ul class=\"features\">\n");
        for (feature, description) in &card.features {
            out.push_str(&format!(
                "<li><strong>{}</strong>: {}</li>\n",
                escape(feature),
                escape(description)
            ));
        }
        out.push_str("</ul>\n");
    }
    if !card.products.is_empty() {
        out.push_str("<h4>Most recommended</h4>\n<ol class=\"products\">\n");
        for (product, share) in &card.products {
            out.push_str(&format!(
                "<li>{}: to {:.0} % of them</li>\n",
                escape(product),
                share * 100.0
            ));
        }
        out.push_str("</ol>\n");
    }
    if !card.metrics.is_empty() {
        out.push_str("<h4>How well we recommend to them</h4>\n<ul class=\"segment-metrics\">\n");
        for (metric, value) in &card.metrics {
            out.push_str(&format!("<li>{}: {value:.3}</li>\n", escape(metric)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</article>\n");
    out
}

fn table_html(table: &Table) -> String {
    let mut out = format!(
        "<table>\n<caption>{}</caption>\n<thead><tr>",
        escape(&table.caption)
    );
    for column in &table.columns {
        out.push_str(&format!("<th>{}</th>", escape(column)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &table.rows {
        let class = if row.name == "blend" {
            " class=\"blend\""
        } else {
            ""
        };
        out.push_str(&format!("<tr{class}><td>{}</td>", escape(&row.name)));
        for cell in &row.cells {
            match cell {
                Some(v) => out.push_str(&format!("<td>{}</td>", format_value(*v))),
                None => out.push_str("<td>–</td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// Four significant figures, without an exponent for the usual sizes.
pub fn format_value(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    if (-4..6).contains(&magnitude) {
        let decimals = (3 - magnitude).max(0) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_files_is_escaped() {
        assert_eq!(
            escape("<b>\"Tom\" & 'Jerry'</b>"),
            "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn values_keep_four_significant_figures() {
        assert_eq!(format_value(0.44251), "0.4425");
        assert_eq!(format_value(757.375), "757.4");
        assert_eq!(format_value(1.0), "1.000");
        assert_eq!(format_value(41755.698), "41756");
        assert_eq!(format_value(12345678.0), "1.235e7");
    }
}
