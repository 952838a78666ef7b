//! The JSON-lines report (`--report`): one line per input, written as each job ends.

use super::*;

/// The --report file: one JSON object per input and line, appended and written as each
/// input finishes (one `write` per line, so shards may even share a local file).
pub(super) struct Report(Option<Mutex<std::fs::File>>);

impl Report {
    pub(super) fn open(path: Option<&Path>) -> Result<Report, String> {
        let Some(path) = path else {
            return Ok(Report(None));
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("--report {}: {e}", path.display()))?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(|f| Report(Some(Mutex::new(f))))
            .map_err(|e| format!("--report {}: {e}", path.display()))
    }

    pub(super) fn line(
        &self,
        input: &str,
        output: Option<&str>,
        status: &str,
        error: Option<&str>,
        ms: u64,
    ) {
        let Some(file) = &self.0 else { return };
        #[derive(serde::Serialize)]
        struct Line<'a> {
            input: &'a str,
            output: Option<&'a str>,
            status: &'a str,
            error: Option<&'a str>,
            milliseconds: u64,
        }
        let mut line = serde_json::to_string(&Line {
            input,
            output,
            status,
            error,
            milliseconds: ms,
        })
        .unwrap_or_default();
        line.push('\n');
        let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
            note!("colorize: --report: {e}");
        }
    }
}
