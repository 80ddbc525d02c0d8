//! Writing the page and the charts directory, each file whole.

use std::path::Path;

use clientele_shared::stage::StageIo;
use clientele_shared::SharedError;

use crate::errors::ReportError;
use crate::html::{self, Figure, Page};
use crate::CHART_NAMES;

/// Writes the charts directory (when the port names one), then the page.
pub(crate) fn write_outputs(
    io: &StageIo,
    report_path: &Path,
    page: &Page,
) -> Result<(), ReportError> {
    if let Some(dir) = io.output("charts") {
        write_charts(dir, &page.figures)?;
    }
    clientele_shared::atomic::write_file(report_path, html::render(page).as_bytes())?;
    Ok(())
}

/// Writes each chart as `NAME.png` and `NAME.svg`, each file whole, and removes the
/// files of charts not drawn this run.
fn write_charts(dir: &Path, figures: &[Figure]) -> Result<(), ReportError> {
    for figure in figures {
        clientele_shared::atomic::write_file(
            &dir.join(format!("{}.png", figure.name)),
            &figure.rendered.png,
        )?;
        clientele_shared::atomic::write_file(
            &dir.join(format!("{}.svg", figure.name)),
            figure.rendered.svg.as_bytes(),
        )?;
    }
    for name in CHART_NAMES {
        if figures.iter().any(|f| f.name == name) {
            continue;
        }
        for extension in ["png", "svg"] {
            let stale = dir.join(format!("{name}.{extension}"));
            if stale.exists() {
                std::fs::remove_file(&stale)
                    .map_err(|e| SharedError::io("remove the stale chart", &stale, e))?;
            }
        }
    }
    Ok(())
}
