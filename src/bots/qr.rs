//! QR codes as `data:image/svg+xml;base64,…` URIs, ready for an `<img src>`
//! and for the JSON `{state, qr, expires_at}` answers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use qrcode::QrCode;
use qrcode::render::svg;

/// Renders `content` as an SVG QR code (at least 256 px) in a data URI.
pub fn data_uri(content: &str) -> Result<String, qrcode::types::QrError> {
    let code = QrCode::new(content.as_bytes())?;
    let svg = code
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(svg)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_real_svg_qr_code_as_a_data_uri() {
        let uri = data_uri("flowhq-sandbox:test").unwrap();
        let encoded = uri.strip_prefix("data:image/svg+xml;base64,").unwrap();
        let svg = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
        assert_ne!(data_uri("a").unwrap(), data_uri("b").unwrap());
    }
}
