//! The report stage: charts and a self-contained HTML report.
//!
//! Not implemented yet (issue "Report stage"). The runner recognises the kind `report`
//! and rejects it at validation with a message saying so.
