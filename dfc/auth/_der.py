"""Minimal DER reading and writing: enough to slice the original bytes out of a structure.

Signatures are computed over the exact bytes that were signed. A decode/re-encode round
trip through an ASN.1 library can change them (non-minimal lengths, BER leftovers), so the
verifiers take the signed part straight from the input with :func:`children`.
"""

from __future__ import annotations

__all__ = ["children", "encode", "split_tlv"]


def split_tlv(data: bytes, pos: int = 0) -> tuple[int, int, int]:
    """Read one DER element header.

    Args:
        data: the encoding.
        pos: where the element starts.

    Returns:
        ``(tag, content_start, end)``: the identifier octet, the offset of the content and
        the offset just after the element.

    Raises:
        ValueError: truncated input, a multi-byte tag, or an indefinite or oversized length.
    """
    if pos + 2 > len(data):
        raise ValueError("truncated DER element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte DER tags are not supported")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise ValueError("indefinite or oversized DER length")
        if pos + count > len(data):
            raise ValueError("truncated DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise ValueError("truncated DER content")
    return tag, pos, end


def children(data: bytes) -> list[bytes]:
    """The complete encodings (header included) of the elements inside a constructed one.

    Args:
        data: exactly one DER element (SEQUENCE, SET or a constructed tagged value).

    Returns:
        The raw bytes of each child, in order.

    Raises:
        ValueError: the input is not exactly one well-formed constructed element.
    """
    tag, start, end = split_tlv(data)
    if not tag & 0x20:
        raise ValueError("DER element is not constructed")
    if end != len(data):
        raise ValueError("trailing bytes after DER element")
    out: list[bytes] = []
    pos = start
    while pos < end:
        _, _, child_end = split_tlv(data, pos)
        if child_end > end:
            raise ValueError("DER child overruns its parent")
        out.append(data[pos:child_end])
        pos = child_end
    return out


def encode(tag: int, content: bytes) -> bytes:
    """Encode one DER element.

    Args:
        tag: the identifier octet.
        content: the content octets.

    Returns:
        The encoded element.
    """
    length = len(content)
    if length < 0x80:
        header = bytes([tag, length])
    else:
        raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([tag, 0x80 | len(raw)]) + raw
    return header + content
