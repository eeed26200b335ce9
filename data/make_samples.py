"""Write the small sample documents in data/samples/ (deterministic: same bytes on every run).

Each document plants its own facts (numbers, names) in a known place, listed in data/QUESTIONS.md,
so search and answer tests can check that a question finds the right document and page or section:

- harrow_valley_field_guide.pdf: a 12-page field guide, one topic per page (reportlab)
- northwind_ferry_manual.docx: an operations manual with headings and a timetable table (python-docx)
- orchard_street_library.html: a library's visitor page with nav/footer noise around the content
- quasar7_calibration.md: telescope calibration notes with nested headings, front matter and code
- cafe_lumiere_recipes.txt: a recipe notebook in cp1252 (accents, euro sign, curly quotes)

Run: python data/make_samples.py [output_dir]
"""

from __future__ import annotations

import io
import random
import sys
import zipfile
from datetime import datetime
from pathlib import Path

FIXED_DATE = datetime(2025, 6, 1, 12, 0, 0)
PDF_TITLE = "Field Guide to the Harrow Valley Wetlands"

# (section heading or "", fact sentence) per PDF page; filler paragraphs surround each fact.
PDF_PAGES: list[tuple[str, str]] = [
    (
        "About this guide",
        "This guide is published by the Harrow Valley Conservation Trust and edited by Dr. Maren Oakhurst, "
        "who led the wetland survey programme from 2019 to 2025.",
    ),
    (
        "1. The valley at a glance",
        "The protected wetland covers 38.5 square kilometres and is fed by three reservoirs: Upper Harrow, "
        "Millpond and Greyford Water.",
    ),
    (
        "2. Birds",
        "Wading birds are easiest to watch from the Alder Hide at low water, two hours after sunrise.",
    ),
    (
        "2.1 The heron colony",
        "The 2025 survey counted 214 nesting pairs of grey heron in the Sallow Wood colony, the largest "
        "number since records began.",
    ),
    (
        "2.2 Spring migrants",
        "The first ospreys usually arrive around 9 April and fish the Millpond until early September.",
    ),
    (
        "3. Amphibians",
        "The marsh frog chorus peaks at about 11 p.m. in late May, when the water of the east lagoons "
        "reaches 16 degrees.",
    ),
    (
        "3.1 Great crested newts",
        "Great crested newts breed in 17 ponds of the valley; pond 12 near Greyford holds the largest population.",
    ),
    (
        "4. Water quality",
        "Dissolved oxygen at monitoring station W3 averaged 7.8 mg/L over the 2024 season.",
    ),
    (
        "4.1 Nutrients and algae",
        "Nitrate at the Millpond outflow averaged 2.4 mg/L; a blue-green algal bloom closed the Millpond "
        "to paddling for 19 days in August 2024.",
    ),
    (
        "5. Access",
        "The boardwalk at Kestrel Point is 1.6 km long and is closed from 1 March to 15 July to protect "
        "nesting bitterns.",
    ),
    (
        "5.1 Safety and contacts",
        "The head ranger, Ilse Marchetti, can be reached from the visitor centre; in an emergency on the "
        "water, call the rescue boat on marine channel 16.",
    ),
    (
        "Appendix A. Species checklist",
        "The checklist below records 143 bird species seen in the valley between 2019 and 2025.",
    ),
]

FILLER = [
    "Reed beds fringe most of the open water and shelter a dense community of insects and small birds.",
    "Visitors are asked to keep to marked paths, because the peat soils are soft and easily damaged.",
    "Survey volunteers walk fixed transects each month and record every sighting on standard forms.",
    "Water levels are managed with sluices so that the shallow margins stay wet through the summer.",
    "The grazing marsh is cut in late summer, which keeps the sward short for wintering wildfowl.",
    "Willow carr along the stream edges provides cover for warblers and roosting sites for bats.",
    "Seasonal pools dry out in most years, which keeps fish away and benefits breeding amphibians.",
    "Winter floods bring silt and nutrients from the farmland upstream into the lower lagoons.",
    "Telescopes can be borrowed at the visitor centre against a deposit and a signed form.",
    "Dogs must be kept on a short lead on every path from the beginning of spring to late summer.",
    "Each section of this guide ends with notes on where and when the species are most often seen.",
    "Records from the survey are shared with the county biological records centre every winter.",
]

CHECKLIST = [
    ("Grey heron", "resident", "214 pairs"),
    ("Bittern", "resident", "4 booming males"),
    ("Osprey", "summer visitor", "2 birds"),
    ("Marsh harrier", "summer visitor", "3 pairs"),
    ("Whooper swan", "winter visitor", "41 birds"),
    ("Kingfisher", "resident", "6 territories"),
]


def _filler(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.sample(FILLER, 4)) for _ in range(n)]


def make_pdf(path: Path) -> None:
    from reportlab import rl_config
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    rl_config.invariant = 1  # no timestamps or random IDs: identical bytes on every run
    styles = getSampleStyleSheet()
    rng = random.Random(7)

    def footer(canvas, doc) -> None:  # reportlab page callback
        canvas.setFont("Helvetica", 8)
        canvas.drawString(56, 30, f"Harrow Valley Field Guide - page {doc.page}")

    story: list = []
    for number, (heading, fact) in enumerate(PDF_PAGES, start=1):
        if number == 1:
            story += [Paragraph(PDF_TITLE, styles["Title"]), Spacer(1, 12)]
        story.append(Paragraph(heading, styles["Heading1"]))
        paragraphs = _filler(rng, 4)
        paragraphs.insert(1 + number % 3, fact)
        story += [Paragraph(text, styles["BodyText"]) for text in paragraphs]
        if number == len(PDF_PAGES):
            table = Table([("Species", "Status", "2025 count"), *CHECKLIST])
            table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey)]))
            story += [Spacer(1, 12), table]
        else:
            story.append(PageBreak())
    doc = SimpleDocTemplate(str(path), pagesize=A4, title=PDF_TITLE, author="Harrow Valley Conservation Trust")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    props = document.core_properties
    props.title = "Northwind Ferry Operations Manual"
    props.author = "Northwind Ferries"
    props.created = props.modified = FIXED_DATE
    props.last_printed = FIXED_DATE
    props.revision = 1
    document.add_heading("Northwind Ferry Operations Manual", level=0)
    document.add_heading("1. Fleet", level=1)
    document.add_paragraph(
        "Northwind runs two vessels between Port Selby and Gannet Island. Both are inspected every spring."
    )
    document.add_heading("1.1 MV Tern", level=2)
    document.add_paragraph(
        "The MV Tern was built in 2009 in Aberdeen. Her maximum passenger capacity is 312, with room for "
        "28 cars on the vehicle deck."
    )
    document.add_heading("1.2 MV Skua", level=2)
    document.add_paragraph(
        "The MV Skua is the relief vessel. She carries 96 passengers and no vehicles, and is used when the "
        "Tern is in dry dock every February."
    )
    document.add_heading("2. Timetable", level=1)
    document.add_paragraph("Summer sailings (April to October) leave Port Selby at these times:")
    rows = [
        ("Departure", "From", "Arrives", "Vessel"),
        ("07:40", "Port Selby", "08:55 Gannet Island", "MV Tern"),
        ("12:15", "Port Selby", "13:30 Gannet Island", "MV Tern"),
        ("17:05", "Port Selby", "18:20 Gannet Island", "MV Skua"),
    ]
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_heading("3. Safety", level=1)
    document.add_heading("3.1 Weather limits", level=2)
    document.add_paragraph(
        "Sailings are cancelled when the forecast wind at Selby Head exceeds 34 knots (force 8). The "
        "duty master decides by 06:30 and posts the decision at the terminal."
    )
    document.add_heading("3.2 Muster drill", level=2)
    document.add_paragraph(
        "Crew run a muster drill every Tuesday before the first sailing; the muster station is the "
        "forward lounge on deck 2."
    )
    buf = io.BytesIO()
    document.save(buf)
    path.write_bytes(_fixed_zip_dates(buf.getvalue()))


def _fixed_zip_dates(data: bytes) -> bytes:
    """python-docx stamps zip entries with the current time; rewrite them with a fixed one."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_DATE.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


HTML = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Orchard Street Community Library - Visitor Information</title>
  <style>body { font-family: sans-serif; }</style>
  <script>window.analytics = {track: function () {}};</script>
</head>
<body>
  <header><a href="/">Home</a> <a href="/events">Events</a> <a href="/contact">Contact</a></header>
  <nav><ul><li><a href="/catalogue">Catalogue</a></li><li><a href="/account">My account</a></li></ul></nav>
  <main>
    <h1>Orchard Street Community Library</h1>
    <p>A neighbourhood library with a reading garden, a local history room and a makerspace.</p>
    <h2>Opening hours</h2>
    <p>Monday to Friday the library opens at 09:30. On <strong>Wednesday</strong> it stays open until
       20:30 for the evening study club. Saturday hours are 10:00 to 16:00; it is closed on Sunday.</p>
    <h2>Membership</h2>
    <p>Membership is free for residents. A replacement library card costs 4 euros.</p>
    <h3>Borrowing limits</h3>
    <ul>
      <li>Up to 12 books for three weeks</li>
      <li>Up to 3 board games for one week</li>
    </ul>
    <h2>History</h2>
    <p>The library was founded in 1911 by the schoolteacher Agnes Whitlow, who lent her own collection of
       600 books from the front room of number 14 Orchard Street.</p>
    <h3>The local history room</h3>
    <p>The room keeps the parish maps of 1843 and a run of the Orchard Street Gazette from 1920 to 1977.</p>
    <table>
      <tr><th>Collection</th><th>Items</th></tr>
      <tr><td>Parish maps</td><td>38</td></tr>
      <tr><td>Gazette issues</td><td>2,916</td></tr>
    </table>
  </main>
  <footer>&copy; 2025 Orchard Street Community Library. Cookie settings.</footer>
</body>
</html>
"""

MARKDOWN = """---
title: Quasar-7 Telescope Calibration Notes
author: Observatory operations
---

Quasar-7 Telescope
==================

Working notes for the night crew of the 1.2 m Quasar-7 reflector at Cerro Lindo.

## Mirror alignment

Collimate the primary mirror at the start of every observing run.

### Tilt tolerance

The secondary mirror tilt must stay within **0.02 degrees**; beyond that, star images show coma at the
edge of the field.

### Focus offsets

| Filter | Offset (microns) |
|--------|------------------|
| B      | +35              |
| V      | 0                |
| R      | -18              |

## Detector

### Cooling

Cool the CCD to -95 degrees Celsius and wait 40 minutes before taking dark frames.

### Readout

Use the slow readout mode (100 kHz) for science frames:

```
camera.set_readout("slow")  # 100 kHz, 3.1 e- read noise
camera.expose(seconds=300)
```

## Flat fields

Take twilight flats in the order B, V, R, starting when the sun is 4 degrees below the horizon.
"""

TEXT = """Café Lumière - recipe notebook

Crème brûlée (serves 6)
The crème brûlée needs 6 egg yolks, 500 ml of cream and 80 g of sugar. Bake it in a water bath for
42 minutes at 150 °C, then chill it for at least four hours before caramelising the top.

Tarte Tatin
Use 7 Reine des Reinettes apples and a 24 cm copper pan. Marie’s tip: “let the caramel go amber, not
brown” — the apples go on while it still foams.

Prices (2025 menu)
Crème brûlée costs €6.50; the tarte Tatin with crème fraîche costs €7.20. A café au lait is €2.80.

Suppliers
Cream comes from the Ferme des Trois Chênes in Bréval, delivered every Tuesday and Friday.
"""


def make_samples(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "pdf": out_dir / "harrow_valley_field_guide.pdf",
        "docx": out_dir / "northwind_ferry_manual.docx",
        "html": out_dir / "orchard_street_library.html",
        "md": out_dir / "quasar7_calibration.md",
        "txt": out_dir / "cafe_lumiere_recipes.txt",
    }
    make_pdf(paths["pdf"])
    make_docx(paths["docx"])
    paths["html"].write_text(HTML, encoding="utf-8")
    paths["md"].write_text(MARKDOWN, encoding="utf-8")
    paths["txt"].write_bytes(TEXT.encode("cp1252"))
    _check_pdf_pages(paths["pdf"])
    return list(paths.values())


def _check_pdf_pages(path: Path) -> None:
    """Each planted fact must sit on its own page: the questions file promises page numbers."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        assert len(pdf) == len(PDF_PAGES), f"expected {len(PDF_PAGES)} pages, got {len(pdf)}"
        for index, (_, fact) in enumerate(PDF_PAGES):
            text = " ".join(pdf[index].get_textpage().get_text_range().split())
            assert " ".join(fact.split()[:6]) in text, f"fact for page {index + 1} is not on that page"
    finally:
        pdf.close()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "samples"
    for written in make_samples(target):
        print(f"{written.stat().st_size:>8}  {written}")
