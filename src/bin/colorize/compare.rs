//! `colorize compare`: the same photos through several models, side by side in one grid
//! image (the paper's CompareModels view). One row per photo: its grey input, each
//! model's output, and the original when the photo is in colour.
//!
//! Labels are drawn with `ab_glyph` in a DejaVu (or Liberation) font found at run time
//! under the system font folders; without one the grid is written without text.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use clap::Args;
use colorize::metrics;
use image::{Rgb, RgbImage};

/// Colorizes photos with several models and writes one comparison grid image.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  colorize compare --models landscape-l2,landscape-huber,landscape-pmse a.jpg b.jpg -o grid.png"
)]
pub struct CompareArgs {
    /// Photos (grey or colour), or folders of photos.
    #[arg(required = true)]
    images: Vec<PathBuf>,

    /// Models: embedded names or ONNX file paths, comma-separated or repeated; `NAME@V`
    /// runs a classification model at vividness V (e.g. `vivid@1.5,vivid@3`).
    #[arg(short, long, value_delimiter = ',', required = true)]
    models: Vec<String>,

    /// The grid image to write (PNG, JPEG, TIFF or PPM by extension), or - for PNG on stdout.
    #[arg(short, long)]
    output: String,

    /// Each cell's side in pixels: photos are scaled to fit, aspect kept.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(16..=4096))]
    cell: u32,

    /// Short side the network runs at (default: each model's training size).
    #[arg(long, value_name = "PIXELS")]
    working_size: Option<u32>,
}

/// Below this colourfulness a photo counts as black-and-white (JPEG chroma noise of a
/// grey photo stays well under it; colour photos score 15 and more).
const GREY_COLOURFULNESS: f64 = 2.0;

const GAP: u32 = 6;
const LABEL_PX: f32 = 16.0;
const BACKGROUND: Rgb<u8> = Rgb([40, 40, 40]);
const TEXT: Rgb<u8> = Rgb([235, 235, 235]);

pub fn run(args: &CompareArgs) -> ExitCode {
    match compare(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("colorize compare: {message}");
            ExitCode::from(1)
        }
    }
}

/// One photo's row of cells, already fitted to the cell size.
struct Row {
    caption: String,
    grey: RgbImage,
    outputs: Vec<RgbImage>,
    truth: Option<RgbImage>,
}

fn compare(args: &CompareArgs) -> Result<(), String> {
    let mut paths = Vec::new();
    for input in &args.images {
        if input.is_dir() {
            paths.extend(super::eval::photo_paths(input, None, None)?);
        } else {
            paths.push(input.clone());
        }
    }
    let mut models = Vec::new();
    for spec in &args.models {
        // A suffix that is not a number belongs to the name (a file path may hold '@').
        let (name, vividness) = spec
            .rsplit_once('@')
            .and_then(|(name, v)| Some((name, v.parse::<f32>().ok()?)))
            .unwrap_or((spec.as_str(), 0.0));
        let model = crate::load_model(name).map_err(|e| format!("model {name}: {e}"))?;
        let options = colorize::Options {
            working_size: args.working_size.unwrap_or(0),
            vividness,
            ..Default::default()
        };
        options
            .validate()
            .and_then(|()| model.temperature_for(vividness).map(|_| ()))
            .map_err(|e| format!("model {spec}: {e}"))?;
        models.push((model, options));
    }

    let mut rows = Vec::new();
    for path in &paths {
        let photo = super::eval::load_photo(path, None)?;
        let (w, h) = (photo.width(), photo.height());
        let bad = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let is_colour =
            metrics::colourfulness_rgb8(&photo).map_err(|e| bad(&e))? >= GREY_COLOURFULNESS;
        let grey_pixels = metrics::grayscale_baseline_rgb8(&photo).map_err(|e| bad(&e))?;
        let mut outputs = Vec::new();
        for (spec, (model, options)) in args.models.iter().zip(&models) {
            let mut pixels = grey_pixels.clone();
            colorize::colorize_rgb8(
                model,
                options,
                &mut pixels,
                w as usize,
                h as usize,
                w as usize * 3,
                3,
            )
            .map_err(|e| format!("{}: model {spec}: {e}", path.display()))?;
            outputs.push(fit_to_cell(
                &RgbImage::from_raw(w, h, pixels).expect("same size as the photo"),
                args.cell,
            ));
        }
        rows.push(Row {
            caption: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            grey: fit_to_cell(
                &RgbImage::from_raw(w, h, grey_pixels).expect("same size as the photo"),
                args.cell,
            ),
            outputs,
            truth: is_colour.then(|| fit_to_cell(&photo, args.cell)),
        });
    }

    let mut headers = vec!["grey input".to_string()];
    headers.extend(args.models.iter().map(|m| model_label(m)));
    if rows.iter().any(|r| r.truth.is_some()) {
        headers.push("original".to_string());
    }
    let font = find_font();
    if font.is_none() {
        eprintln!("colorize compare: no DejaVu or Liberation font under /usr/share/fonts; the grid has no labels");
    }
    let grid = layout(&rows, &headers, args.cell, font.as_ref());
    write_grid(&grid, &args.output)
}

/// A model's column label: its name, or a file path's stem.
fn model_label(spec: &str) -> String {
    // `NAME@V`: the model's label, then the vividness.
    if let Some((name, v)) = spec.rsplit_once('@') {
        if v.parse::<f32>().is_ok() {
            return format!("{} @{v}", model_label(name));
        }
    }
    let path = Path::new(spec);
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
    {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| spec.to_string())
    } else {
        spec.to_string()
    }
}

fn layout(rows: &[Row], headers: &[String], cell: u32, font: Option<&FontVec>) -> RgbImage {
    let label_height = if font.is_some() {
        LABEL_PX.ceil() as u32 + 4
    } else {
        0
    };
    let columns = headers.len() as u32;
    let width = GAP + columns * (cell + GAP);
    let row_height = label_height + cell + GAP;
    let height = GAP + label_height + rows.len() as u32 * row_height;
    let mut grid = RgbImage::from_pixel(width, height, BACKGROUND);
    let column_x = |c: u32| GAP + c * (cell + GAP);
    if let Some(font) = font {
        for (c, header) in headers.iter().enumerate() {
            draw_text(&mut grid, font, column_x(c as u32), GAP, cell, header);
        }
    }
    for (r, row) in rows.iter().enumerate() {
        let top = GAP + label_height + r as u32 * row_height;
        if let Some(font) = font {
            draw_text(
                &mut grid,
                font,
                column_x(0),
                top,
                width - 2 * GAP,
                &row.caption,
            );
        }
        let cells = std::iter::once(Some(&row.grey))
            .chain(row.outputs.iter().map(Some))
            .chain(std::iter::once(row.truth.as_ref()))
            .take(columns as usize);
        for (c, image) in cells.enumerate() {
            if let Some(image) = image {
                place_fitted(
                    &mut grid,
                    image,
                    column_x(c as u32),
                    top + label_height,
                    cell,
                );
            }
        }
    }
    grid
}

/// Draws a fitted `image` centred in the `cell` x `cell` box at (x, y).
fn place_fitted(grid: &mut RgbImage, image: &RgbImage, x: u32, y: u32, cell: u32) {
    let (w, h) = image.dimensions();
    image::imageops::replace(
        grid,
        image,
        i64::from(x + (cell - w) / 2),
        i64::from(y + (cell - h) / 2),
    );
}

/// `image` scaled to fit a `cell` x `cell` box, aspect kept. Done as soon as a cell is
/// made, so memory holds thumbnails, not every model's full-size output.
fn fit_to_cell(image: &RgbImage, cell: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let scale = f64::from(cell) / f64::from(w.max(h));
    let (fw, fh) = (
        ((f64::from(w) * scale).round() as u32).clamp(1, cell),
        ((f64::from(h) * scale).round() as u32).clamp(1, cell),
    );
    image::imageops::resize(image, fw, fh, image::imageops::FilterType::Triangle)
}

/// The first label font found under the usual system font folders.
fn find_font() -> Option<FontVec> {
    const NAMES: &[&str] = &[
        "DejaVuSans.ttf",
        "DejaVuSansCondensed.ttf",
        "LiberationSans-Regular.ttf",
    ];
    const ROOTS: &[&str] = &["/usr/share/fonts", "/usr/local/share/fonts"];
    NAMES.iter().find_map(|name| {
        ROOTS.iter().find_map(|root| {
            let path = find_file(Path::new(root), name, 4)?;
            FontVec::try_from_vec(std::fs::read(path).ok()?).ok()
        })
    })
}

fn find_file(dir: &Path, name: &str, depth: u32) -> Option<PathBuf> {
    let candidate = dir.join(name);
    if candidate.is_file() {
        return Some(candidate);
    }
    if depth == 0 {
        return None;
    }
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    subdirs.iter().find_map(|d| find_file(d, name, depth - 1))
}

/// Width in pixels of `text` set in `font` at the label size.
fn text_width(font: &FontVec, text: &str) -> f32 {
    let scaled = font.as_scaled(PxScale::from(LABEL_PX));
    let mut width = 0.0;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            width += scaled.kern(p, id);
        }
        width += scaled.h_advance(id);
        previous = Some(id);
    }
    width
}

/// Draws one line of text with its top-left at (x, y), shortened with "…" to `max_width`.
fn draw_text(image: &mut RgbImage, font: &FontVec, x: u32, y: u32, max_width: u32, text: &str) {
    let mut shown: String = text.to_string();
    if text_width(font, &shown) > max_width as f32 {
        let mut chars: Vec<char> = text.chars().collect();
        while !chars.is_empty()
            && text_width(font, &format!("{}…", chars.iter().collect::<String>()))
                > max_width as f32
        {
            chars.pop();
        }
        shown = format!("{}…", chars.iter().collect::<String>());
    }
    let scaled = font.as_scaled(PxScale::from(LABEL_PX));
    let baseline = y as f32 + scaled.ascent();
    let mut caret = x as f32;
    let mut previous = None;
    for c in shown.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            caret += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(LABEL_PX, ab_glyph::point(caret, baseline));
        caret += scaled.h_advance(id);
        previous = Some(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let (px, py) = (
                bounds.min.x as i64 + i64::from(gx),
                bounds.min.y as i64 + i64::from(gy),
            );
            if px < 0 || py < 0 || px >= i64::from(image.width()) || py >= i64::from(image.height())
            {
                return;
            }
            let pixel = image.get_pixel_mut(px as u32, py as u32);
            let alpha = coverage.clamp(0.0, 1.0);
            for (channel, text) in pixel.0.iter_mut().zip(TEXT.0) {
                *channel =
                    (f32::from(*channel) * (1.0 - alpha) + f32::from(text) * alpha).round() as u8;
            }
        });
    }
}

fn write_grid(grid: &RgbImage, output: &str) -> Result<(), String> {
    let image = image::DynamicImage::ImageRgb8(grid.clone());
    if output == "-" {
        let bytes =
            colorize::io::encode(&image, image::ImageFormat::Png).map_err(|e| e.to_string())?;
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(&bytes)
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("stdout: {e}"));
    }
    let path = Path::new(output);
    let format = colorize::io::format_for_path(path).ok_or_else(|| {
        format!("{output}: unknown image extension (use .png, .jpg, .tif or .ppm)")
    })?;
    let bytes = colorize::io::encode(&image, format).map_err(|e| e.to_string())?;
    colorize::io::write_atomic(path, &bytes).map_err(|e| e.to_string())
}
