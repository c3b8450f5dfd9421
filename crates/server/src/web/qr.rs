//! QR codes for the TOTP enrolment page, drawn here as inline SVG: the
//! `otpauth://` URI holds the seed, so it never goes to a QR service, and
//! the page's CSP (`default-src 'none'`) allows no image from anywhere.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An `<svg>` element showing `data`, or `None` when it is too long for a
/// QR code. It holds only rectangles: no text of `data` appears in it, so
/// it is safe to insert into a page unescaped.
pub fn svg(data: &str) -> Option<String> {
    // Level M (15 % recovery) is what authenticator apps' cameras expect.
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(220, 220)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build();
    // The renderer writes an XML declaration, which does not belong in HTML.
    let start = image.find("<svg")?;
    Some(image[start..].to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_otpauth_uri_draws_as_svg_without_its_text() {
        let uri = "otpauth://totp/auth.example:alice?secret=JBSWY3DPEHPK3PXP&issuer=auth.example";
        let svg = super::svg(uri).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("<path") || svg.contains("<rect"));
        assert!(!svg.contains("JBSWY3DP") && !svg.contains("alice"));
        assert!(super::svg(&"x".repeat(8_000)).is_none());
    }
}
