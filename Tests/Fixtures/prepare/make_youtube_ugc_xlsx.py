#!/usr/bin/env python3
"""Writes a small .xlsx in the layout of YouTube-UGC's original_videos_MOS_for_YouTube_UGC_dataset.xlsx
(sheets readme, MOS, diff2; MOS columns category, resolution, vid, MOS full, MOS chunk 00/05/10)
with the standard library only, for PrepareXLSXTests. The rows are made up; one row has an empty
MOS full cell. diff2 holds other scores, so a reader that takes the wrong sheet gets other values.

  python3 make_youtube_ugc_xlsx.py OUT.xlsx
"""
import sys
import zipfile
from xml.sax.saxutils import escape

MOS = [["category", "resolution", "vid", "MOS full", "MOS chunk 00", "MOS chunk 05", "MOS chunk 10"],
       ["Animation", "1080P", "Animation_1080P-05f8", 3.5816, 3.4, 3.6, 3.7],
       ["Gaming", "720P", "Gaming_720P-0ef8", 4.2104, 4.1, 4.3, 4.2],
       ["Vlog", "360P", "Vlog_360P-2e9d", 2.1375, 2.0, 2.2, 2.3],
       ["Sports", "2160P", "Sports_2160P-1b70", 3.9981, 3.9, 4.0, 4.1],
       ["LiveMusic", "480P", "LiveMusic_480P-6bb6", 2.9023, 2.8, 3.0, 2.9],
       ["HDR", "1080P", "HDR_1080P-3a1c", None, 3.1, 3.3, None]]
README = [["YouTube UGC dataset: MOS of the original videos"], ["MOS full: rating of the whole 20 s clip"]]
DIFF2 = [["vid", "MOS full"], ["Animation_1080P-05f8", 1.0], ["Gaming_720P-0ef8", 1.5]]


def column(i):
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def sheet_xml(rows, strings):
    out = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, v in enumerate(row):
            ref = f"{column(c)}{r}"
            if v is None:
                continue  # an empty cell is absent, as spreadsheet programs write it
            if isinstance(v, str):
                if v not in strings:
                    strings.append(v)
                cells.append(f'<c r="{ref}" t="s"><v>{strings.index(v)}</v></c>')
            else:
                cells.append(f'<c r="{ref}"><v>{v!r}</v></c>')
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<sheetData>{"".join(out)}</sheetData></worksheet>')


def main(path):
    names = ["readme", "MOS", "diff2"]
    strings = []
    sheets = [sheet_xml(rows, strings) for rows in (README, MOS, DIFF2)]
    main_ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel_ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    ws_type = rel_ns + "/worksheet"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                   '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                   + "".join(f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" '
                             'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                             for i in range(len(names)))
                   + '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
                   '</Types>')
        z.writestr("_rels/.rels",
                   '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                   '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="rId1" Type="{rel_ns}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml",
                   f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{main_ns}" xmlns:r="{rel_ns}"><sheets>'
                   + "".join(f'<sheet name="{n}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, n in enumerate(names))
                   + '</sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                   '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   + "".join(f'<Relationship Id="rId{i + 1}" Type="{ws_type}" Target="worksheets/sheet{i + 1}.xml"/>' for i in range(len(names)))
                   + f'<Relationship Id="rId{len(names) + 1}" Type="{rel_ns}/sharedStrings" Target="sharedStrings.xml"/>'
                   '</Relationships>')
        for i, xml in enumerate(sheets):
            z.writestr(f"xl/worksheets/sheet{i + 1}.xml", xml)
        z.writestr("xl/sharedStrings.xml",
                   f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="{main_ns}" count="{len(strings)}" uniqueCount="{len(strings)}">'
                   + "".join(f"<si><t>{escape(s)}</t></si>" for s in strings) + "</sst>")


if __name__ == "__main__":
    main(sys.argv[1])
