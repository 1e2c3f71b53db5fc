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

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The integer right after `key` (e.g. `/Size 42`), skipping white space.
fn number_after(text: &str, key: &str) -> Option<u64> {
    let rest = text[text.find(key)? + key.len()..].trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A PDF object: its number and the text between `N 0 obj` and `endobj`.
struct Object {
    number: u64,
    body: String,
}

/// The byte offset of object `number`, read from the classic cross-reference table at `xref`.
/// Objects are found through the table, never by searching the file for a keyword: caller text
/// (an invoice number in the document title) is in the file too.
fn object_offset(pdf: &[u8], xref: usize, number: u64) -> Result<usize, PdfError> {
    let table = pdf
        .get(xref..)
        .filter(|t| t.starts_with(b"xref"))
        .ok_or_else(|| err("startxref does not point to a cross-reference table"))?;
    let text = std::str::from_utf8(table).map_err(|_| err("unreadable cross-reference table"))?;
    let mut lines = text["xref".len()..].lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        if line.starts_with("trailer") {
            break;
        }
        let mut header = line.split_whitespace().map(str::parse::<u64>);
        let (Some(Ok(first)), Some(Ok(count))) = (header.next(), header.next()) else {
            return Err(err("unreadable cross-reference subsection"));
        };
        for n in first..first + count {
            let entry = lines
                .next()
                .ok_or_else(|| err("short cross-reference table"))?;
            if n == number {
                let offset = entry.split_whitespace().next().and_then(|o| o.parse().ok());
                return offset.ok_or_else(|| err("unreadable cross-reference entry"));
            }
        }
    }
    Err(err(format!(
        "object {number} is not in the cross-reference table"
    )))
}

/// Everything after `N 0 obj` of the object at `offset`, to the end of the file.
fn object_start(pdf: &[u8], offset: usize, number: u64) -> Result<&[u8], PdfError> {
    let header = format!("{number} 0 obj");
    pdf.get(offset..)
        .filter(|r| r.starts_with(header.as_bytes()))
        .map(|r| &r[header.len()..])
        .ok_or_else(|| err(format!("object {number} is not where the table says")))
}

/// The text between `N 0 obj` and `endobj` of a dictionary object holding no caller text (a
/// stream's data may contain "endobj": read those with `stream_data`).
fn object_body(pdf: &[u8], offset: usize, number: u64) -> Result<&[u8], PdfError> {
    let body = object_start(pdf, offset, number)?;
    let end = find(body, b"endobj").ok_or_else(|| err(format!("object {number} has no end")))?;
    Ok(&body[..end])
}

/// The data of the uncompressed stream object starting at `body` (`<<… /Length L …>> stream`),
/// cut by its /Length.
fn stream_data(body: &[u8]) -> Result<&[u8], PdfError> {
    let dict_end = find(body, b">>").ok_or_else(|| err("stream without a dictionary"))?;
    let dict = std::str::from_utf8(&body[..dict_end]).map_err(|_| err("unreadable stream"))?;
    if dict.contains("/Filter") {
        return Err(err("the XMP stream is compressed"));
    }
    let length = number_after(dict, "/Length").ok_or_else(|| err("stream without /Length"))?;
    let after = &body[dict_end + 2..];
    let start = find(after, b"stream").ok_or_else(|| err("no stream keyword"))? + b"stream".len();
    let start = match after.get(start..) {
        Some([b'\r', b'\n', ..]) => start + 2,
        Some([b'\n', ..]) => start + 1,
        _ => return Err(err("no end of line after the stream keyword")),
    };
    usize::try_from(length)
        .ok()
        .and_then(|length| after.get(start..start + length))
        .ok_or_else(|| err("the XMP stream is shorter than its /Length"))
}

pub(crate) fn add_xmp(pdf: &[u8]) -> Result<Vec<u8>, PdfError> {
    let startxref_at = rfind(pdf, b"startxref").ok_or_else(|| err("no startxref"))?;
    let tail = std::str::from_utf8(&pdf[startxref_at..]).map_err(|_| err("unreadable tail"))?;
    let prev = number_after(tail, "startxref").ok_or_else(|| err("unreadable startxref"))?;
    let xref = usize::try_from(prev).map_err(|_| err("startxref out of range"))?;
    let trailer_at = rfind(pdf, b"trailer")
        .filter(|at| *at > xref)
        .ok_or_else(|| err("no classic trailer (a cross-reference stream is not handled)"))?;
    let trailer = std::str::from_utf8(&pdf[trailer_at + b"trailer".len()..startxref_at])
        .map_err(|_| err("unreadable trailer"))?
        .trim();
    let root = number_after(trailer, "/Root").ok_or_else(|| err("trailer without /Root"))?;
    let catalog = Object {
        number: root,
        body: String::from_utf8(object_body(pdf, object_offset(pdf, xref, root)?, root)?.to_vec())
            .map_err(|_| err("the catalog is not text"))?,
    };
    let old_meta = number_after(&catalog.body, "/Metadata")
        .ok_or_else(|| err("the catalog has no /Metadata"))?;
    let meta_body = object_start(pdf, object_offset(pdf, xref, old_meta)?, old_meta)?;
    let packet =
        std::str::from_utf8(stream_data(meta_body)?).map_err(|_| err("XMP is not UTF-8"))?;
    let xmp = facturx_xmp(packet)?;

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
    fn a_pdf_without_a_cross_reference_table_is_a_typed_error() {
        let pdf = b"%PDF-1.7\n<?xpacket begin=\"\"?><rdf:RDF></rdf:RDF><?xpacket end=\"w\"?>";
        assert!(matches!(add_xmp(pdf), Err(PdfError::FacturX(_))));
    }
}
