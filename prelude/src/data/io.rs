//! Reading tables from files: CSV, Parquet and JSON, with errors that name the file, the row
//! and the column.

use anyhow::{bail, Context, Result};
use polars::prelude::*;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Files up to this size are checked for ragged rows before polars reads them, so the error
/// can name the row; larger ones are checked only when polars fails.
const PRECHECK_BYTES: u64 = 256 << 20;

fn open(path: &Path, what: &str) -> Result<File> {
    File::open(path).map_err(|e| {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "?".into());
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(
                "cannot read {what} {}: no such file (relative paths start at the notebook's \
                 working directory, {cwd})",
                path.display()
            )
        } else {
            anyhow::anyhow!("cannot read {what} {}: {e}", path.display())
        }
    })
}

/// Reads a CSV file with a header row and comma delimiter, inferring column types from all
/// rows. See [`Csv`] for other delimiters or no header.
///
/// ```
/// use trainbook::prelude::*;
/// let path = std::env::temp_dir().join("trainbook-doc-read.csv");
/// std::fs::write(&path, "x,label\n1.5,a\n2.5,b\n").unwrap();
/// let frame = read_csv(&path).unwrap();
/// assert_eq!(frame.shape(), (2, 2));
/// ```
pub fn read_csv(path: impl AsRef<Path>) -> Result<DataFrame> {
    Csv::new(path).read()
}

/// CSV reading options.
///
/// ```
/// use trainbook::prelude::*;
/// let path = std::env::temp_dir().join("trainbook-doc-semicolon.csv");
/// std::fs::write(&path, "a;b\n1;2\n").unwrap();
/// assert!(read_csv(&path).unwrap_err().to_string().contains("delimiter(b';')"));
/// assert_eq!(Csv::new(&path).delimiter(b';').read().unwrap().width(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct Csv {
    path: PathBuf,
    delimiter: u8,
    has_header: bool,
}

impl Csv {
    /// Options for reading `path`: comma-delimited with a header unless changed.
    ///
    /// ```
    /// let frame = trainbook::prelude::Csv::new("missing.csv").read();
    /// assert!(frame.unwrap_err().to_string().contains("no such file"));
    /// ```
    pub fn new(path: impl AsRef<Path>) -> Csv {
        Csv {
            path: path.as_ref().to_path_buf(),
            delimiter: b',',
            has_header: true,
        }
    }

    /// The field separator, e.g. `b';'` or `b'\t'`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let path = std::env::temp_dir().join("trainbook-doc-tabs.tsv");
    /// std::fs::write(&path, "a\tb\n1\t2\n").unwrap();
    /// assert_eq!(Csv::new(&path).delimiter(b'\t').read().unwrap().width(), 2);
    /// ```
    pub fn delimiter(mut self, delimiter: u8) -> Csv {
        self.delimiter = delimiter;
        self
    }

    /// The first row is data; columns are named `column_1`, `column_2`, ….
    pub fn no_header(mut self) -> Csv {
        self.has_header = false;
        self
    }

    /// Reads the file: types inferred from all rows; a row with the wrong number of fields is an
    /// error naming its row and line.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let path = std::env::temp_dir().join("trainbook-doc-ragged.csv");
    /// std::fs::write(&path, "a,b\n1,2\n3\n").unwrap();
    /// assert!(Csv::new(&path).read().unwrap_err().to_string().contains("data row 1 (line 3)"));
    /// ```
    pub fn read(&self) -> Result<DataFrame> {
        let path = &self.path;
        let file = open(path, "CSV file")?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if size <= PRECHECK_BYTES {
            self.check_rows()?;
        }
        let result = CsvReadOptions::default()
            .with_has_header(self.has_header)
            .with_infer_schema_length(None)
            .with_parse_options(CsvParseOptions::default().with_separator(self.delimiter))
            .into_reader_with_file_handle(file)
            .finish();
        let frame = match result {
            Ok(frame) => frame,
            Err(e) => {
                if size > PRECHECK_BYTES {
                    self.check_rows()?;
                }
                return Err(anyhow::Error::from(e))
                    .with_context(|| format!("cannot parse CSV file {}", path.display()));
            }
        };
        if frame.width() == 1 && self.has_header {
            let header = frame.get_column_names()[0].to_string();
            let delim = self.delimiter as char;
            if let Some(other) = [';', '\t', '|', ',']
                .into_iter()
                .find(|&d| d != delim && header.contains(d))
            {
                bail!(
                    "{}: the header {header:?} read as one column with delimiter {delim:?}, but it \
                     contains {other:?}; read it with Csv::new(path).delimiter(b{:?}).read()",
                    path.display(),
                    other
                );
            }
        }
        Ok(frame)
    }

    /// Finds the first row whose field count differs from the first row's.
    fn check_rows(&self) -> Result<()> {
        let bytes = std::fs::read(&self.path)
            .with_context(|| format!("cannot read CSV file {}", self.path.display()))?;
        let text = String::from_utf8_lossy(&bytes);
        let mut expected: Option<(usize, Vec<String>)> = None;
        for (line_number, record) in records(&text, self.delimiter as char) {
            if record.len() == 1 && record[0].trim().is_empty() {
                continue; // blank line
            }
            match &expected {
                None => expected = Some((record.len(), record)),
                Some((n, header)) if record.len() != *n => {
                    let row = if self.has_header {
                        line_number - 1
                    } else {
                        line_number
                    };
                    let described = if self.has_header {
                        format!("the header has {n} columns ({})", header.join(", "))
                    } else {
                        format!("the first row has {n} fields")
                    };
                    let detail = if record.len() > *n {
                        format!("the extra field is {:?} (column {})", record[*n], n + 1)
                    } else {
                        let missing_from = if self.has_header {
                            header[record.len()].clone()
                        } else {
                            format!("field {}", record.len() + 1)
                        };
                        format!("fields from column {missing_from:?} on are missing")
                    };
                    bail!(
                        "{}: data row {row} (line {}) has {} fields but {described}; {detail}. \
                         Fix that line, or check the delimiter and quoting",
                        self.path.display(),
                        line_number + 1,
                        record.len()
                    );
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// CSV records with their 0-based starting line numbers, honouring double quotes.
fn records(text: &str, delimiter: char) -> Vec<(usize, Vec<String>)> {
    let mut out = vec![];
    let (mut fields, mut field) = (vec![], String::new());
    let (mut in_quotes, mut line, mut start_line) = (false, 0, 0);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => in_quotes = !in_quotes,
            c if c == delimiter && !in_quotes => fields.push(std::mem::take(&mut field)),
            '\n' if !in_quotes => {
                fields.push(std::mem::take(&mut field));
                out.push((start_line, std::mem::take(&mut fields)));
                line += 1;
                start_line = line;
            }
            '\r' if !in_quotes => {}
            c => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c)
            }
        }
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        out.push((start_line, fields));
    }
    out
}

/// Reads a Parquet file.
///
/// ```
/// use trainbook::prelude::*;
/// let path = std::env::temp_dir().join("trainbook-doc.parquet");
/// write_parquet(&load_iris().frame, &path).unwrap();
/// assert_eq!(read_parquet(&path).unwrap().shape(), (150, 5));
/// ```
pub fn read_parquet(path: impl AsRef<Path>) -> Result<DataFrame> {
    read_parquet_path(path.as_ref())
}

// The generic shims stay one line so cells do not compile the bodies again.
fn read_parquet_path(path: &Path) -> Result<DataFrame> {
    let file = open(path, "Parquet file")?;
    ParquetReader::new(file)
        .finish()
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{} is not a readable Parquet file", path.display()))
}

/// Reads JSON: an array of records (`[{"x": 1}, …]`) or one record per line (NDJSON).
///
/// ```
/// use trainbook::prelude::*;
/// let path = std::env::temp_dir().join("trainbook-doc.json");
/// std::fs::write(&path, r#"[{"x": 1.5, "y": "a"}, {"x": 2.0, "y": "b"}]"#).unwrap();
/// assert_eq!(read_json(&path).unwrap().shape(), (2, 2));
/// ```
pub fn read_json(path: impl AsRef<Path>) -> Result<DataFrame> {
    read_json_path(path.as_ref())
}

fn read_json_path(path: &Path) -> Result<DataFrame> {
    let mut file = open(path, "JSON file")?;
    let mut first = [0u8; 1];
    let starts_with_array = loop {
        use std::io::Read;
        match file.read(&mut first)? {
            0 => bail!("{} is empty", path.display()),
            _ if first[0].is_ascii_whitespace() => continue,
            _ => break first[0] == b'[',
        }
    };
    let file = open(path, "JSON file")?;
    let format = if starts_with_array {
        JsonFormat::Json
    } else {
        JsonFormat::JsonLines
    };
    JsonReader::new(file)
        .with_json_format(format)
        .infer_schema_len(None)
        .finish()
        .map_err(anyhow::Error::from)
        .with_context(|| {
            format!(
                "{} is not a JSON array of records nor one record per line (NDJSON)",
                path.display()
            )
        })
}

/// Writes a CSV file with a header.
///
/// ```
/// use trainbook::prelude::*;
/// let path = std::env::temp_dir().join("trainbook-doc-write.csv");
/// write_csv(&load_iris().frame, &path).unwrap();
/// assert_eq!(read_csv(&path).unwrap().height(), 150);
/// ```
pub fn write_csv(frame: &DataFrame, path: impl AsRef<Path>) -> Result<()> {
    write_csv_path(frame, path.as_ref())
}

fn write_csv_path(frame: &DataFrame, path: &Path) -> Result<()> {
    let mut file =
        File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    CsvWriter::new(&mut file).finish(&mut frame.clone())?;
    Ok(())
}

/// Writes a Parquet file.
pub fn write_parquet(frame: &DataFrame, path: impl AsRef<Path>) -> Result<()> {
    write_parquet_path(frame, path.as_ref())
}

fn write_parquet_path(frame: &DataFrame, path: &Path) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    ParquetWriter::new(file).finish(&mut frame.clone())?;
    Ok(())
}
