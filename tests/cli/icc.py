# SPDX-License-Identifier: GPL-3.0-or-later
"""ICC profiles made by the CLI tests (test-upscale.py, test-stream.py)."""
import struct


def matrix_icc(primaries, white=(0.9642, 1.0, 0.8249), gamma=2.2):
    """A minimal ICC v2 RGB matrix/TRC display profile: D50-adapted XYZ columns of the
    primaries, one gamma curve for all three channels."""
    def s15(v):
        return struct.pack(">i", int(round(v * 65536)))

    def xyz(v):
        return b"XYZ \0\0\0\0" + b"".join(s15(c) for c in v)
    desc_text = b"tconv test RGB\0"
    tags = [(b"desc", b"desc\0\0\0\0" + struct.pack(">I", len(desc_text)) + desc_text
             + b"\0" * 4 + b"\0" * 4 + b"\0" * 3 + b"\0" * 67),
            (b"wtpt", xyz(white)), (b"rXYZ", xyz(primaries[0])), (b"gXYZ", xyz(primaries[1])),
            (b"bXYZ", xyz(primaries[2]))]
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, int(round(gamma * 256))) + b"\0\0"
    tags += [(b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    table, body, offset = [], b"", 128 + 4 + 12 * len(tags)
    for sig, data in tags:
        while len(data) % 4:
            data += b"\0"
        table.append(struct.pack(">4sII", sig, offset + len(body), len(data)))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"\0\0\0\0" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + b"\0" * 12 + b"acsp" + b"\0" * 28 + s15(0.9642) + s15(1.0) + s15(0.8249) + b"\0" * 48)
    return header + struct.pack(">I", len(tags)) + b"".join(table) + body
