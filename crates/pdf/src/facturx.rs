//! The Factur-X XMP metadata, added to the PDF/A-3b that typst wrote.
//!
//! typst attaches the XML (with its AFRelationship) and writes PDF/A-3b XMP, but has no way to
//! add another XMP schema. So the PDF gets an incremental update (allowed by PDF/A): a new
//! metadata stream holding typst's XMP plus the fx: properties and their PDF/A extension schema,
//! and a new version of the catalog pointing to it. typst's own bytes are left as they are.

use crate::error::PdfError;

const FX_NS: &str = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#";

/// The fx: properties.
fn facturx_description() -> String {
    format!(
        "<rdf:Description rdf:about=\"\" xmlns:fx=\"{FX_NS}\">\
         <fx:DocumentType>INVOICE</fx:DocumentType>\
         <fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>\
         <fx:Version>1.0</fx:Version>\
         <fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>\
         </rdf:Description>"
    )
}

/// The PDF/A extension schema that declares the fx: properties (PDF/A requires every
/// non-standard XMP schema to be described in the packet itself).
fn facturx_schema() -> String {
    let property = |name: &str, description: &str| {
        format!(
            "<rdf:li rdf:parseType=\"Resource\"><pdfaProperty:name>{name}</pdfaProperty:name>\
             <pdfaProperty:valueType>Text</pdfaProperty:valueType>\
             <pdfaProperty:category>external</pdfaProperty:category>\
             <pdfaProperty:description>{description}</pdfaProperty:description></rdf:li>"
        )
    };
    format!(
        "<rdf:li rdf:parseType=\"Resource\">\
         <pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>\
         <pdfaSchema:namespaceURI>{FX_NS}</pdfaSchema:namespaceURI>\
         <pdfaSchema:prefix>fx</pdfaSchema:prefix>\
         <pdfaSchema:property><rdf:Seq>{}{}{}{}</rdf:Seq></pdfaSchema:property>\
         </rdf:li>",
        property("DocumentFileName", "The name of the embedded XML document"),
        property(
            "DocumentType",
            "The type of the hybrid document in capital letters, e.g. INVOICE or ORDER"
        ),
        property(
            "Version",
            "The actual version of the standard applying to the embedded XML document"
        ),
        property(
            "ConformanceLevel",
            "The conformance level of the embedded XML document"
        ),
    )
}

/// typst's XMP with the fx: properties and their schema. The schema joins typst's own
/// `pdfaExtension:schemas` bag when there is one: XMP allows a property only once.
fn facturx_xmp(packet: &str) -> Result<String, PdfError> {
    const BAG_END: &str = "</rdf:Bag></pdfaExtension:schemas>";
    let with_schema = match packet.find(BAG_END) {
        Some(at) => format!("{}{}{}", &packet[..at], facturx_schema(), &packet[at..]),
        None => {
            let rdf_end = packet
                .find("</rdf:RDF>")
                .ok_or_else(|| err("XMP without rdf:RDF"))?;
            format!(
                "{}<rdf:Description rdf:about=\"\" \
                 xmlns:pdfaExtension=\"http://www.aiim.org/pdfa/ns/extension/\" \
                 xmlns:pdfaSchema=\"http://www.aiim.org/pdfa/ns/schema#\" \
                 xmlns:pdfaProperty=\"http://www.aiim.org/pdfa/ns/property#\">\
                 <pdfaExtension:schemas><rdf:Bag>{}{BAG_END}</rdf:Description>{}",
                &packet[..rdf_end],
                facturx_schema(),
                &packet[rdf_end..]
            )
        }
    };
    let rdf_end = with_schema
        .rfind("</rdf:RDF>")
        .ok_or_else(|| err("XMP without rdf:RDF"))?;
    Ok(format!(
        "{}{}{}",
        &with_schema[..rdf_end],
        facturx_description(),
        &with_schema[rdf_end..]
    ))
}

fn err(message: impl Into<String>) -> PdfError {
    PdfError::FacturX(message.into())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// The integer right after `key` (e.g. `/Size 42`), skipping white space.
fn number_after(text: &str, key: &str) -> Option<u64> {
    let rest = text[text.find(key)? + key.len()..].trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A PDF object `N 0 obj … endobj`: its number and the text between the two keywords.
struct Object {
    number: u64,
    body: String,
}

/// The uncompressed object holding `marker` (typst writes the catalog and the XMP that way).
fn object_around(pdf: &[u8], marker: &[u8]) -> Result<(Object, usize), PdfError> {
    let at = find(pdf, marker).ok_or_else(|| err("no catalog in the PDF"))?;
    let start = rfind(&pdf[..at], b" 0 obj").ok_or_else(|| err("no object around the catalog"))?;
    let line_start = rfind(&pdf[..start], b"\n").map_or(0, |i| i + 1);
    let number: u64 = std::str::from_utf8(&pdf[line_start..start])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| err("unreadable catalog object number"))?;
    let body_start = start + b" 0 obj".len();
    let body_len =
        find(&pdf[body_start..], b"endobj").ok_or_else(|| err("unterminated catalog"))?;
    let body = String::from_utf8(pdf[body_start..body_start + body_len].to_vec())
        .map_err(|_| err("the catalog is not text"))?;
    Ok((Object { number, body }, line_start))
}

/// typst's XMP packet, from `<?xpacket begin` to the end of `<?xpacket end…?>`.
fn xmp_packet(pdf: &[u8]) -> Result<&[u8], PdfError> {
    let start = find(pdf, b"<?xpacket begin").ok_or_else(|| err("no XMP packet in the PDF"))?;
    let end_tag = find(&pdf[start..], b"<?xpacket end").ok_or_else(|| err("unterminated XMP"))?;
    let close = find(&pdf[start + end_tag..], b"?>").ok_or_else(|| err("unterminated XMP"))?;
    Ok(&pdf[start..start + end_tag + close + 2])
}

pub(crate) fn add_xmp(pdf: &[u8]) -> Result<Vec<u8>, PdfError> {
    let packet = std::str::from_utf8(xmp_packet(pdf)?).map_err(|_| err("XMP is not UTF-8"))?;
    let xmp = facturx_xmp(packet)?;

    let (catalog, _) = object_around(pdf, b"/Type/Catalog")?;
    let startxref_at = rfind(pdf, b"startxref").ok_or_else(|| err("no startxref"))?;
    let tail = std::str::from_utf8(&pdf[startxref_at..]).map_err(|_| err("unreadable tail"))?;
    let prev = number_after(tail, "startxref").ok_or_else(|| err("unreadable startxref"))?;
    let trailer_at = rfind(pdf, b"trailer")
        .ok_or_else(|| err("no classic trailer (a cross-reference stream is not handled)"))?;
    let trailer = std::str::from_utf8(&pdf[trailer_at + b"trailer".len()..startxref_at])
        .map_err(|_| err("unreadable trailer"))?
        .trim();
    let size = number_after(trailer, "/Size").ok_or_else(|| err("trailer without /Size"))?;

    let old_meta = number_after(&catalog.body, "/Metadata")
        .ok_or_else(|| err("the catalog has no /Metadata"))?;
    let meta_number = size;
    let catalog_body = catalog.body.replacen(
        &format!("/Metadata {old_meta} 0 R"),
        &format!("/Metadata {meta_number} 0 R"),
        1,
    );
    if catalog_body == catalog.body {
        return Err(err("unexpected /Metadata reference in the catalog"));
    }

    let mut out = pdf.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let meta_offset = out.len();
    out.extend_from_slice(
        format!(
            "{meta_number} 0 obj\n<</Type /Metadata /Subtype /XML /Length {}>>\nstream\n",
            xmp.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(xmp.as_bytes());
    out.extend_from_slice(b"\nendstream\nendobj\n");
    let catalog_offset = out.len();
    out.extend_from_slice(format!("{} 0 obj{catalog_body}endobj\n", catalog.number).as_bytes());

    // The new trailer: typst's (Root, Info, ID) with the new size and a link to the old xref.
    let dict = trailer
        .strip_prefix("<<")
        .and_then(|t| t.strip_suffix(">>"))
        .ok_or_else(|| err("unreadable trailer dictionary"))?;
    let old_size = format!("/Size {size}");
    if !dict.contains(&old_size) {
        return Err(err("unexpected /Size in the trailer"));
    }
    let dict = dict.replacen(&old_size, &format!("/Size {}", size + 1), 1);
    let xref_offset = out.len();
    let mut xref = String::from("xref\n0 1\n0000000000 65535 f \n");
    let mut entries = [(catalog.number, catalog_offset), (meta_number, meta_offset)];
    entries.sort();
    for (number, offset) in entries {
        xref.push_str(&format!("{number} 1\n{offset:010} 00000 n \n"));
    }
    xref.push_str(&format!(
        "trailer\n<<{dict} /Prev {prev}>>\nstartxref\n{xref_offset}\n%%EOF\n"
    ));
    out.extend_from_slice(xref.as_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_after_reads_the_integer_after_a_key() {
        assert_eq!(number_after("<</Size 17 /Root 3 0 R>>", "/Size"), Some(17));
        assert_eq!(number_after("/Metadata\n 5 0 R", "/Metadata"), Some(5));
        assert_eq!(number_after("/Size /x", "/Size"), None);
    }

    #[test]
    fn the_schema_joins_an_existing_bag_and_the_properties_come_last() {
        let packet = "<?xpacket begin=\"\"?><rdf:RDF><rdf:Description>\
                      <pdfaExtension:schemas><rdf:Bag><rdf:li>typst</rdf:li></rdf:Bag>\
                      </pdfaExtension:schemas></rdf:Description></rdf:RDF><?xpacket end=\"r\"?>";
        let xmp = facturx_xmp(packet).expect("xmp");
        assert_eq!(xmp.matches("<pdfaExtension:schemas>").count(), 1);
        let typst = xmp
            .find("<rdf:li>typst</rdf:li>")
            .expect("typst's schema kept");
        let fx_schema = xmp
            .find("Factur-X PDFA Extension Schema")
            .expect("fx schema");
        let bag_end = xmp.find("</rdf:Bag>").expect("bag end");
        assert!(typst < fx_schema && fx_schema < bag_end);
        let props = xmp
            .find("<fx:DocumentType>INVOICE</fx:DocumentType>")
            .expect("fx");
        assert!(props < xmp.find("</rdf:RDF>").expect("rdf end"));
    }

    #[test]
    fn the_schema_gets_its_own_bag_when_typst_wrote_none() {
        let packet = "<?xpacket begin=\"\"?><rdf:RDF></rdf:RDF><?xpacket end=\"r\"?>";
        let xmp = facturx_xmp(packet).expect("xmp");
        assert_eq!(xmp.matches("<pdfaExtension:schemas><rdf:Bag>").count(), 1);
        assert!(xmp.contains("<pdfaSchema:prefix>fx</pdfaSchema:prefix>"));
    }

    #[test]
    fn a_pdf_without_a_catalog_is_a_typed_error() {
        let pdf = b"%PDF-1.7\n<?xpacket begin=\"\"?><rdf:RDF></rdf:RDF><?xpacket end=\"w\"?>";
        assert!(matches!(add_xmp(pdf), Err(PdfError::FacturX(_))));
    }
}
