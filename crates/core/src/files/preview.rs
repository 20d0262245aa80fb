//! Image metadata of uploaded files: the size of the picture, a small thumbnail and, for large
//! pictures, a preview (spec 01 §3.15, §13: `metadata: {preview, thumbnail}`). PNG, JPEG, GIF
//! (first frame) and WebP are read; the format is recognised by the bytes, not by the
//! announced MIME type. Pictures with transparency get PNG copies, the others JPEG.
//!
//! Decoding is CPU work: it runs on a blocking thread (`spawn_blocking`), at most
//! [`PARALLEL`] at once, with limits on size and memory. A picture that cannot be read (broken,
//! too large, an unsupported variant) simply gets no metadata: the upload itself succeeds.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use serde_json::{json, Value};

/// Bounding box of thumbnails, in pixels.
pub const THUMBNAIL_SIZE: u32 = 256;
/// Bounding box of previews; a picture that fits in it is its own preview.
pub const PREVIEW_SIZE: u32 = 1280;
/// Pictures larger than this on either side are not decoded.
pub const MAX_SIDE: u32 = 16_384;
/// Memory one decoder may take.
const MAX_ALLOC: u64 = 400 * 1024 * 1024;
/// Pictures decoded at the same time (each may take [`MAX_ALLOC`]).
pub const PARALLEL: usize = 2;
const JPEG_QUALITY: u8 = 85;

/// A smaller copy of a picture, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaled {
    pub bytes: Vec<u8>,
    pub mime_type: &'static str,
    pub extension: &'static str,
}

/// What a picture gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Displayed size (after the EXIF orientation).
    pub width: u32,
    pub height: u32,
    pub thumbnail: Scaled,
    /// `None` when the picture fits in [`PREVIEW_SIZE`]: the file itself is the preview.
    pub preview: Option<Scaled>,
}

/// A stored copy: its storage key and type.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub key: String,
    pub mime_type: String,
}

/// The metadata of a file as kept in `files.metadata`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageMeta {
    pub width: u32,
    pub height: u32,
    pub thumbnail: Stored,
    pub preview: Option<Stored>,
}

impl ImageMeta {
    pub fn to_json(&self) -> String {
        let stored = |s: &Stored| json!({"key": s.key, "mimeType": s.mime_type});
        json!({
            "width": self.width,
            "height": self.height,
            "thumbnail": stored(&self.thumbnail),
            "preview": self.preview.as_ref().map(stored),
        })
        .to_string()
    }

    /// Reads the stored JSON; anything unexpected reads as no metadata.
    pub fn parse(text: &str) -> Option<ImageMeta> {
        let v: Value = serde_json::from_str(text).ok()?;
        let stored = |v: &Value| {
            Some(Stored {
                key: v.get("key")?.as_str()?.to_string(),
                mime_type: v.get("mimeType")?.as_str()?.to_string(),
            })
        };
        Some(ImageMeta {
            width: u32::try_from(v.get("width")?.as_u64()?).ok()?,
            height: u32::try_from(v.get("height")?.as_u64()?).ok()?,
            thumbnail: stored(v.get("thumbnail")?)?,
            preview: v.get("preview").and_then(stored),
        })
    }

    /// Every storage key the metadata names.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = vec![self.thumbnail.key.clone()];
        keys.extend(self.preview.as_ref().map(|p| p.key.clone()));
        keys
    }
}

/// The formats read; `None` for anything else.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(bytes).ok()? {
        f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP) => {
            Some(f)
        }
        _ => None,
    }
}

fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(MAX_SIDE);
    l.max_image_height = Some(MAX_SIDE);
    l.max_alloc = Some(MAX_ALLOC);
    l
}

/// Decodes a picture and makes its copies. CPU-bound: call from a blocking thread.
pub fn render(bytes: &[u8]) -> Result<Rendered, String> {
    let format = sniff(bytes).ok_or("not a PNG, JPEG, GIF or WebP picture")?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    let (width, height) = (img.width(), img.height());
    if width == 0 || height == 0 {
        return Err("an empty picture".into());
    }
    let preview = if width > PREVIEW_SIZE || height > PREVIEW_SIZE {
        let p = img.thumbnail(PREVIEW_SIZE, PREVIEW_SIZE);
        let copy = encode(&p)?;
        // The thumbnail is made from the preview: much less to read.
        img = p;
        Some(copy)
    } else {
        None
    };
    let thumbnail = if img.width() > THUMBNAIL_SIZE || img.height() > THUMBNAIL_SIZE {
        encode(&img.thumbnail(THUMBNAIL_SIZE, THUMBNAIL_SIZE))?
    } else {
        encode(&img)?
    };
    Ok(Rendered {
        width,
        height,
        thumbnail,
        preview,
    })
}

/// PNG for pictures with transparency (thumbnails of photos on a transparent background stay
/// transparent), JPEG for the others.
fn encode(img: &DynamicImage) -> Result<Scaled, String> {
    let mut out = Vec::new();
    if img.color().has_alpha() {
        img.to_rgba8()
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map_err(|e| e.to_string())?;
        Ok(Scaled {
            bytes: out,
            mime_type: "image/png",
            extension: "png",
        })
    } else {
        JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
            .encode_image(&img.to_rgb8())
            .map_err(|e| e.to_string())?;
        Ok(Scaled {
            bytes: out,
            mime_type: "image/jpeg",
            extension: "jpg",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    fn png(w: u32, h: u32, alpha: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let img = if alpha {
            DynamicImage::ImageRgba8(RgbaImage::from_pixel(w, h, Rgba([10, 20, 30, 128])))
        } else {
            DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
                Rgb([(x % 256) as u8, (y % 256) as u8, 99])
            }))
        };
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .expect("encode");
        out
    }

    #[test]
    fn small_opaque_picture() {
        let r = render(&png(300, 200, false)).expect("render");
        assert_eq!((r.width, r.height), (300, 200));
        assert_eq!(r.thumbnail.mime_type, "image/jpeg");
        assert!(r.preview.is_none(), "fits in the preview box");
        let t = image::load_from_memory(&r.thumbnail.bytes).expect("thumbnail");
        assert_eq!((t.width(), t.height()), (256, 171));
    }

    #[test]
    fn large_transparent_picture() {
        let r = render(&png(2000, 500, true)).expect("render");
        assert_eq!((r.width, r.height), (2000, 500));
        assert_eq!(r.thumbnail.mime_type, "image/png");
        let p = r.preview.expect("preview");
        let p = image::load_from_memory(&p.bytes).expect("preview");
        assert_eq!((p.width(), p.height()), (1280, 320));
        assert!(p.color().has_alpha());
    }

    #[test]
    fn other_formats_and_broken_bytes() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(40, 30, Rgb([1, 2, 3])));
        for f in [ImageFormat::Jpeg, ImageFormat::Gif, ImageFormat::WebP] {
            let mut out = Vec::new();
            img.write_to(&mut Cursor::new(&mut out), f).expect("encode");
            let r = render(&out).unwrap_or_else(|e| panic!("{f:?}: {e}"));
            assert_eq!((r.width, r.height), (40, 30), "{f:?}");
        }
        let mut broken = png(50, 50, false);
        broken.truncate(60);
        assert!(render(&broken).is_err());
        assert!(render(b"plain text").is_err());
        assert!(render(&[]).is_err());
    }

    #[test]
    fn metadata_round_trip() {
        let m = ImageMeta {
            width: 10,
            height: 20,
            thumbnail: Stored {
                key: "previews/1/thumbnail.jpg".into(),
                mime_type: "image/jpeg".into(),
            },
            preview: None,
        };
        assert_eq!(ImageMeta::parse(&m.to_json()), Some(m.clone()));
        assert_eq!(m.keys(), vec!["previews/1/thumbnail.jpg".to_string()]);
        assert_eq!(ImageMeta::parse("null"), None);
    }
}
