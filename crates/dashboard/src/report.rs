//! `kubemark report`: the dashboard's views as one self-contained HTML file
//! (styles, script and data inline; no network needed).

use crate::compare::Tolerances;
use crate::runs::Scan;
use crate::view;

pub const INDEX_HTML: &str = include_str!("../assets/index.html");
pub const APP_JS: &str = include_str!("../assets/app.js");
pub const APP_CSS: &str = include_str!("../assets/app.css");

/// The page with its style, script and data placeholders filled.
pub fn page(style: &str, data: &str, script: &str) -> String {
    INDEX_HTML
        .replace("{{STYLE}}", style)
        .replace("{{DATA}}", data)
        .replace("{{SCRIPT}}", script)
}

/// The page the server sends: assets by URL, data fetched from the API.
pub fn served_page() -> String {
    page(
        "<link rel=\"stylesheet\" href=\"app.css\">",
        "",
        "<script src=\"app.js\"></script>",
    )
}

/// The static report.
pub fn render(scan: &Scan, tol: &Tolerances) -> String {
    let mut model = view::model(scan, tol);
    model.comparisons = view::report_comparisons(scan, tol);
    model.r#static = true;
    // A `</script>` inside the script text would end it early.
    let js = APP_JS.replace("</script", "<\\/script");
    page(
        &format!("<style>\n{APP_CSS}\n</style>"),
        &format!(
            "<script id=\"kubemark-data\" type=\"application/json\">{}</script>",
            view::script_json(&model)
        ),
        &format!("<script>\n{js}\n</script>"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_is_self_contained() {
        let scan = crate::runs::scan(&[std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures"
        ))]);
        assert_eq!(scan.runs.len(), 3, "{:?}", scan.problems);
        let html = render(&scan, &Tolerances::default());
        assert!(html.contains("id=\"kubemark-data\""));
        assert!(!html.contains("{{"), "placeholders left");
        for needle in [
            "src=\"http",
            "href=\"http",
            "src=\"//",
            "href=\"//",
            "@import",
        ] {
            assert!(!html.contains(needle), "external reference {needle}");
        }
        assert!(!html.contains("<script src"));
        assert!(!html.contains("<link rel=\"stylesheet\""));
        assert!(html.contains("fixtures/density-1"));
    }
}
