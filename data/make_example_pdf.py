"""Write `data/example.pdf`: a small skincare catalogue used by the `Sales` example and tests.

Run `python data/make_example_pdf.py` (needs the dev dependency fpdf2). The output is
byte-for-byte reproducible. `write_catalogue(path, pages=100)` pads the catalogue with generated
product pages, for benchmarks.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "example.pdf"
TITLE = "Lumen Skincare - Product Catalogue 2025"

Page = tuple[str, list[str]]

PAGES: list[Page] = [
    (
        "Lumen Skincare - Product Catalogue 2025",
        [
            "Welcome to Lumen Skincare. This catalogue lists every product we sell, the skin types it "
            "suits, its key ingredients and its price. All prices are in US dollars and include sales tax.",
            "How to choose by skin type. Oily skin shines by midday and is prone to blackheads: choose "
            "gel textures and oil-free formulas. Dry skin feels tight after washing: choose cream "
            "textures with ceramides and shea butter. Sensitive skin reddens easily: choose fragrance-free "
            "products and always patch test. Combination skin is oily in the T-zone and normal or dry "
            "elsewhere.",
            "Contents: ClearBalance Gel Cleanser (page 2), HydraMilk Cream Cleanser (page 3), Barrier "
            "Repair Cream (page 4), Oil-Free Matte Moisturiser (page 5), Daily Shield Sunscreen SPF 50 "
            "(page 6), Retinal Night Serum (page 7), orders, shipping and returns (page 8).",
        ],
    ),
    (
        "ClearBalance Gel Cleanser",
        [
            "Best for: oily and combination skin, and skin prone to blackheads and breakouts.",
            "Key ingredients: 2% salicylic acid (BHA) to clear pores, 2% niacinamide to regulate sebum, "
            "zinc PCA to reduce shine. Free from fragrance, soap and alcohol.",
            "How to use: massage a pea-sized amount onto damp skin morning and evening for 30 seconds, "
            "then rinse with lukewarm water. Avoid the eye area.",
            "Size and price: 150 ml tube, $14.90. Travel size 50 ml, $6.50.",
            "Customers with oily skin rate it 4.7 out of 5: it removes excess oil without leaving the skin "
            "tight or dry.",
        ],
    ),
    (
        "HydraMilk Cream Cleanser",
        [
            "Best for: dry and sensitive skin, including skin with eczema-prone patches.",
            "Key ingredients: three essential ceramides, 5% glycerin and colloidal oatmeal to soothe. "
            "A non-foaming milk that cleans without stripping the skin barrier. Fragrance-free.",
            "How to use: apply to dry or damp skin, massage gently and wipe off with a soft cloth or rinse.",
            "Size and price: 200 ml pump bottle, $16.50.",
            "Not recommended for very oily skin: the cream texture can leave a light film.",
        ],
    ),
    (
        "Barrier Repair Cream",
        [
            "A rich face moisturiser. Best for: dry, very dry and mature skin; also suitable for sensitive skin.",
            "Key ingredients: shea butter, squalane, ceramides and 1% panthenol (vitamin B5). It restores "
            "the skin barrier and keeps skin hydrated for 24 hours in our clinical test with 40 volunteers.",
            "How to use: apply morning and evening after cleansing and serum. Rich texture, best at night "
            "for combination skin.",
            "Size and price: 50 ml jar, $24.00.",
        ],
    ),
    (
        "Oil-Free Matte Moisturiser",
        [
            "Best for: oily and combination skin.",
            "Key ingredients: hyaluronic acid for light hydration, 4% niacinamide to minimise pores, "
            "silica powder for an eight-hour matte finish. Non-comedogenic: it does not clog pores.",
            "How to use: apply a thin layer every morning after cleansing; works well under make-up.",
            "Size and price: 75 ml pump, $21.00.",
        ],
    ),
    (
        "Daily Shield Sunscreen SPF 50",
        [
            "Best for: all skin types, including sensitive skin and children over three years.",
            "Key ingredients: 20% zinc oxide (mineral UVA and UVB filter), vitamin E and aloe vera. "
            "Water resistant for 40 minutes. No white cast once blended.",
            "How to use: apply generously as the last step of the morning routine, 15 minutes before sun "
            "exposure; reapply every two hours outdoors and after swimming.",
            "Size and price: 50 ml tube, $19.90. Family size 200 ml, $44.00.",
        ],
    ),
    (
        "Retinal Night Serum",
        [
            "Best for: mature skin, fine lines, wrinkles and uneven texture. Not for sensitive skin.",
            "Key ingredients: 0.05% retinaldehyde (retinal), peptides and bakuchiol. Retinal works faster "
            "than retinol on fine lines.",
            "How to use: two drops at night on dry skin, twice a week at first, then every night. Always "
            "use sunscreen the next morning.",
            "Warning: do not use during pregnancy or while breastfeeding. Stop if irritation persists.",
            "Size and price: 30 ml dropper bottle, $38.00.",
        ],
    ),
    (
        "Orders, shipping and returns",
        [
            "Shipping: orders over $35 ship free within the United States and arrive in 3 to 5 working "
            "days. Express delivery in 1 to 2 working days costs $9.00.",
            "Returns: unopened products can be returned within 30 days of delivery for a full refund. "
            "Opened products can be returned within 14 days if they caused a reaction; please include "
            "your order number.",
            "Patch test: before using a new product, apply a small amount behind the ear or on the inner "
            "arm for 24 hours.",
            "Customer service: service@lumen-skincare.example, Monday to Friday, 9:00 to 17:00.",
        ],
    ),
]

_SKIN = ["oily", "dry", "combination", "sensitive", "mature", "normal"]
_ACTIVE = ["vitamin C", "azelaic acid", "lactic acid", "centella asiatica", "green tea", "peptides", "urea"]
_KIND = ["toner", "serum", "mask", "eye cream", "lip balm", "body lotion", "exfoliant", "mist"]


def generated_page(number: int) -> Page:
    """A plausible extra product page, different for each `number`, for benchmarks."""
    skin, active, kind = _SKIN[number % 6], _ACTIVE[number % 7], _KIND[number % 8]
    name = f"Lumen {active.title()} {kind.title()} No. {number}"
    return (
        name,
        [
            f"Best for: {skin} skin. A {kind} built around {active} for daily use.",
            f"Key ingredients: {active}, glycerin and panthenol. Tested on {20 + number % 30} volunteers "
            f"over {2 + number % 6} weeks.",
            f"How to use: apply after cleansing, {1 + number % 3} times a day. Avoid the eye area.",
            f"Size and price: {30 + 10 * (number % 5)} ml, ${9 + number % 40}.{number % 10}0.",
        ],
    )


def write_catalogue(path: Path, pages: int | None = None) -> Path:
    """Write the catalogue to `path`, padded with generated product pages up to `pages`."""
    from fpdf import FPDF

    class Catalogue(FPDF):
        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", size=9)
            self.cell(0, 10, f"{TITLE} - page {self.page_no()}", align="C")

    content = list(PAGES)
    content += [generated_page(n) for n in range(len(content) + 1, (pages or 0) + 1)]
    pdf = Catalogue(format="A4")
    pdf.set_creation_date(datetime(2025, 1, 1, tzinfo=timezone.utc))
    pdf.set_title(TITLE)
    pdf.set_author("Lumen Skincare")
    pdf.set_margins(20, 20, 20)
    for heading, paragraphs in content:
        pdf.add_page()
        pdf.set_font("Helvetica", style="B", size=18)
        pdf.multi_cell(0, 10, heading)
        pdf.ln(4)
        pdf.set_font("Helvetica", size=11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph)
            pdf.ln(3)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


if __name__ == "__main__":
    print(write_catalogue(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT))
