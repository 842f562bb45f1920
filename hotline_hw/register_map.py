"""The accelerator's AXI4-Lite register map: the single source of truth.

Pure Python (no Amaranth): :class:`hotline_hw.control_registers.ControlRegisters` builds the
register file from it, ``sw_driver`` reads and writes by these names, and
:func:`markdown` writes the table shipped next to ``rtl/hotline_top.v`` for FPGA users.

All registers are 32 bits wide at word-aligned byte addresses; a field is ``(name, lsb,
width)``. Access kinds:

``ro``   read-only status (writes answer ``SLVERR``);
``rw``   configuration, read back as written (bits outside the fields read 0);
``wo``   command: a write acts once (reads return 0);
Per-table registers repeat every :data:`TABLE_STRIDE` bytes from :data:`TABLE_BASE`, ``t`` in
``0 .. num_tables - 1``; in hardware they are a small memory
(:class:`hotline_hw.table_parameters.TableParameters`), cleared in the first
``2 ** ceil(log2(num_tables))`` cycles after reset, while their accesses wait. Unmapped addresses answer ``SLVERR`` (read data 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Field", "Register", "REGISTERS", "TABLE_REGISTERS", "TABLE_BASE", "TABLE_STRIDE",
           "ID_VALUE", "VERSION", "ERROR_BITS", "register", "table_register_address",
           "markdown", "ADDRESS_BITS", "constant_values", "COUNTERS",
           "table_register_values"]

ID_VALUE = 0x484F544C               #: "HOTL"
VERSION = (0, 2, 0)                 #: major, minor, patch of the register map
ADDRESS_BITS = 12                   #: AXI4-Lite address width (4 KiB)
TABLE_BASE = 0x400
TABLE_STRIDE = 0x10

#: ``ERRORS`` bits: name -> (bit, meaning).
ERROR_BITS = {
    "lookup_range": (0, "a lookup's table or row was beyond the key widths (popularity table)"),
    "sample_framing": (1, "a sample's beat count disagreed with LOOKUPS (F), or exceeded the "
                          "scheduler's maximum"),
    "gather_range": (2, "a cold-row request was rejected (table not configured, row >= rows)"),
    "gather_bus": (3, "a cold-row read got SLVERR / DECERR (the row was sent zeroed, flagged)"),
    "write_range": (4, "a write-back row was rejected (not written)"),
    "write_bus": (5, "a write-back burst got SLVERR / DECERR"),
    "write_framing": (6, "a write-back row's TLAST disagreed with DIM"),
    "host_overrun": (7, "a HOST_CMD was written while the previous one was pending (ignored)"),
}


@dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int
    doc: str = ""

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class Register:
    name: str
    address: int
    access: str
    doc: str
    fields: tuple[Field, ...] = field(default_factory=tuple)
    reset: int = 0
    counter: bool = False       #: a status counter (zeroed by COMMAND.clear_counters)

    def __post_init__(self):
        if self.access not in ("ro", "rw", "wo"):
            raise ValueError(f"{self.name}: access {self.access!r}")
        if self.address % 4:
            raise ValueError(f"{self.name}: address {self.address:#x} not word aligned")
        used = 0
        for f in self.fields:
            if f.lsb < 0 or f.lsb + f.width > 32 or used & f.mask:
                raise ValueError(f"{self.name}.{f.name}: bits overlap or exceed 32")
            used |= f.mask

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    def pack(self, **values: int) -> int:
        word = 0
        for name, value in values.items():
            f = self.field(name)
            if not 0 <= int(value) < (1 << f.width):
                raise ValueError(f"{self.name}.{name} = {value} does not fit {f.width} bits")
            word |= int(value) << f.lsb
        return word

    def unpack(self, word: int) -> dict[str, int]:
        return {f.name: (word >> f.lsb) & ((1 << f.width) - 1) for f in self.fields}


def _whole(doc: str = "") -> tuple[Field, ...]:
    return (Field("value", 0, 32, doc),)


def _counter(name: str, address: int, doc: str) -> Register:
    return Register(name, address, "ro", f"{doc} (32-bit, wraps; zeroed by COMMAND.clear_counters)",
                    _whole(), counter=True)


REGISTERS: tuple[Register, ...] = (
    # -- identification and build parameters ---------------------------------------------
    Register("ID", 0x000, "ro", f'Constant {ID_VALUE:#010x} ("HOTL").', _whole()),
    Register("VERSION", 0x004, "ro", "Register map version.",
             (Field("patch", 0, 8), Field("minor", 8, 8), Field("major", 16, 8))),
    Register("PARAMS0", 0x008, "ro", "Build parameters: popularity table.",
             (Field("lanes", 0, 8, "lookup lanes P per beat"),
              Field("ways", 8, 8), Field("set_bits", 16, 8),
              Field("table_bits", 24, 8, "key: table id bits"))),
    Register("PARAMS1", 0x00C, "ro", "Build parameters: keys and scheduler.",
             (Field("row_bits", 0, 8, "key: row id bits"),
              Field("max_lookups", 8, 8, "largest F"),
              Field("num_tables", 16, 8, "gather table register sets"),
              Field("bus_bytes", 24, 8, "AXI4 data width / 8"))),
    Register("PARAMS2", 0x010, "ro", "Build parameters: gather engine.",
             (Field("max_dim", 0, 16, "largest DIM"),
              Field("reads_in_flight", 16, 16, "rows read at once"))),
    Register("PARAMS3", 0x014, "ro", "Build parameters: sample buffer capacity (samples).",
             _whole()),
    # -- configuration (change only while STATUS reads idle) -------------------------------
    Register("CONTROL", 0x020, "rw", "Mode.",
             (Field("learn", 0, 1, "1: learning phase (table LEARN, every lookup cold); "
                                   "0: RUN (table read-only)"),
              Field("split", 1, 1, "1: SPLIT micro-batches (exact training); 0: REFORMED")),
             reset=1),
    Register("LOOKUPS", 0x024, "rw", "F: lookups per sample (input framing is checked "
             "against it; 0 disables the check).", (Field("value", 0, 8),)),
    Register("BATCH_SIZE", 0x028, "rw", "B: samples per mini-batch (>= 1).",
             (Field("value", 0, 16),), reset=1),
    Register("WORKING_SET", 0x02C, "rw", "W: mini-batches per working set (>= 1).",
             (Field("value", 0, 8),), reset=1),
    Register("CAPACITY_LIMIT", 0x030, "rw", "Held samples that close a working set early "
             "(values above PARAMS3 act as PARAMS3).", _whole(), reset=0xFFFFFFFF),
    Register("DIM", 0x034, "rw", "D: fp32 values per embedding row (1 .. PARAMS2.max_dim).",
             (Field("value", 0, 16),), reset=1),
    Register("COMMAND", 0x038, "wo", "Write 1 to act.",
             (Field("clear_counters", 0, 1, "zero every counter"),
              Field("clear_errors", 1, 1, "clear ERRORS and the error records"))),
    Register("ALPHA", 0x03C, "rw", "Slipstream: stale lookups that make a would-be popular "
             "sample skipped (it leaves in a SKIPPED micro-batch, kind 3, ids only); 0 "
             "disables skipping.", (Field("value", 0, 8),)),
    # -- status ------------------------------------------------------------------------------
    Register("STATUS", 0x040, "ro", "Activity; configuration may change when all are 0.",
             (Field("schedule_busy", 0, 1, "popularity table or scheduler holds work"),
              Field("gather_busy", 1, 1, "cold rows being read or sent"),
              Field("write_busy", 2, 1, "write-back rows not yet acknowledged"),
              Field("host_pending", 3, 1, "a HOST_CMD has not taken effect yet"))),
    Register("ERRORS", 0x044, "ro", "Sticky error bits (see ERROR_BITS); cleared by "
             "COMMAND.clear_errors.",
             tuple(Field(name, bit, 1, doc) for name, (bit, doc) in ERROR_BITS.items())),
    Register("GATHER_ERROR_TAG", 0x048, "ro", "First gather error since clear: request tag.",
             _whole()),
    Register("GATHER_ERROR_TABLE", 0x04C, "ro", "First gather error: code (1 RANGE, 2 BUS) "
             "and table.", (Field("table", 0, 8), Field("code", 8, 2))),
    Register("GATHER_ERROR_ROW", 0x050, "ro", "First gather error: row.", _whole()),
    Register("WRITE_ERROR_TABLE", 0x054, "ro", "First write-back error: code (1 RANGE, "
             "2 BUS, 4 FRAMING) and table.", (Field("table", 0, 8), Field("code", 8, 3))),
    Register("WRITE_ERROR_ROW", 0x058, "ro", "First write-back error: row.", _whole()),
    # -- counters ----------------------------------------------------------------------------
    _counter("CYCLES", 0x080, "Clock cycles"),
    _counter("TABLE_LOOKUPS", 0x084, "Lookups answered by the popularity table"),
    _counter("TABLE_HITS", 0x088, "Lookups that hit"),
    _counter("TABLE_ERRORS", 0x08C, "Out-of-range lookups"),
    _counter("TABLE_CONFLICTS", 0x090, "Same-set lanes in a beat"),
    _counter("SAMPLES_IN", 0x094, "Samples taken by the scheduler"),
    _counter("POPULAR", 0x098, "Popular samples"),
    _counter("NON_POPULAR", 0x09C, "Non-popular samples"),
    _counter("MICRO_BATCHES", 0x0A0, "Micro-batches emitted"),
    _counter("EARLY_CLOSES", 0x0A4, "Working sets closed early by CAPACITY_LIMIT"),
    _counter("INPUT_STALLS", 0x0A8, "Cycles the scheduler held its input"),
    _counter("ROWS_GATHERED", 0x0AC, "Gathered rows sent (rejected ones included)"),
    _counter("READ_BEATS", 0x0B0, "AXI4 R beats received"),
    _counter("READ_BURSTS", 0x0B4, "AXI4 read bursts issued"),
    _counter("ROWS_WRITTEN_IN", 0x0B8, "Write-back rows taken"),
    _counter("ROWS_WRITTEN", 0x0BC, "Write-back rows whose every burst was acknowledged"),
    Register("WRITE_PENDING", 0x0C0, "ro", "Write bursts awaiting their response.", _whole()),
    _counter("SKIPPED", 0x0C4, "Skipped samples (ALPHA stale lookups; not in POPULAR or "
             "NON_POPULAR)"),
    # -- popularity table host access ------------------------------------------------------
    Register("HOST_ENTRY", 0x0D0, "rw", "Entry for HOST_CMD WRITE.",
             (Field("valid", 0, 1), Field("rrpv", 1, 2), Field("tag", 3, 29))),
    Register("HOST_CMD", 0x0D4, "wo", "Writing issues a command to the popularity table "
             "(op 0 READ, 1 WRITE HOST_ENTRY, 2 CLEAR on entry ``slot``; 3 MARK_STALE the "
             "entry holding HOST_KEY, 4 CLEAR_STALE every entry); STATUS.host_pending until it "
             "has taken effect.", (Field("slot", 0, 24), Field("op", 24, 3))),
    Register("HOST_RESULT", 0x0D8, "ro", "Entry read (READ) or written (WRITE) by the last "
             "command.", (Field("valid", 0, 1), Field("rrpv", 1, 2), Field("tag", 3, 29))),
    Register("HOST_DONE", 0x0DC, "ro", "Host commands completed (wraps).", _whole()),
    Register("HOST_KEY", 0x0E0, "rw", "Key for HOST_CMD MARK_STALE: (table << row_bits) | "
             "row (bits above table_bits + row_bits are ignored).", _whole()),
    Register("HOST_FLAGS", 0x0E4, "ro", "Flags of the last host command's result.",
             (Field("stale", 0, 1, "the entry's stale bit (READ; MARK_STALE that found it)"),
              Field("hit", 1, 1, "MARK_STALE found its key"))),
)

#: Per-table registers: name -> (offset in the table's block, doc).
TABLE_REGISTERS = {
    "TABLE_BASE_LO": (0x0, "Base byte address of table t in host memory, bits 31:0 "
                           "(a multiple of 4)."),
    "TABLE_BASE_HI": (0x4, "Base byte address, bits 63:32."),
    "TABLE_STRIDE": (0x8, "Bytes from one row to the next (a multiple of 4, >= 4 * DIM)."),
    "TABLE_ROWS": (0xC, "Rows in table t; 0 = not configured (its requests are rejected)."),
}

_BY_NAME = {r.name: r for r in REGISTERS}
assert len(_BY_NAME) == len(REGISTERS)
assert len({r.address for r in REGISTERS}) == len(REGISTERS)
assert max(r.address for r in REGISTERS) < TABLE_BASE


#: The status counters, in address order.
COUNTERS = tuple(r.name for r in REGISTERS if r.counter)


def register(name: str) -> Register:
    """The register called ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no register {name!r}") from None


def table_register_address(name: str, table: int) -> int:
    """Address of per-table register ``name`` of table ``table``."""
    return TABLE_BASE + TABLE_STRIDE * table + TABLE_REGISTERS[name][0]


def table_register_values(base: int, stride: int, rows: int) -> dict[str, int]:
    """The per-table register words of a table at byte ``base`` with ``rows`` rows ``stride``
    bytes apart, in address order (``TABLE_BASE_LO``, ``TABLE_BASE_HI``, ``TABLE_STRIDE``,
    ``TABLE_ROWS``)."""
    if not (0 <= base < 1 << 64 and 0 <= stride < 1 << 32 and 0 <= rows < 1 << 32):
        raise ValueError(f"table base {base:#x} / stride {stride} / rows {rows} do not fit "
                         "the registers (64, 32 and 32 bits)")
    value = {"TABLE_BASE_LO": base & 0xFFFFFFFF, "TABLE_BASE_HI": base >> 32,
             "TABLE_STRIDE": stride, "TABLE_ROWS": rows}
    return {name: value[name] for name in sorted(TABLE_REGISTERS,
                                                  key=lambda n: TABLE_REGISTERS[n][0])}


def constant_values(geometry, params: dict) -> dict[str, int]:
    """Values of the constant registers (``ID``, ``VERSION``, ``PARAMS0..3``) of a build:
    ``geometry`` (a ``TableGeometry``) and ``params`` (``lanes``, ``max_lookups``,
    ``num_tables``, ``bus_bytes``, ``max_dim``, ``reads_in_flight``, ``capacity``)."""
    p = params
    return {
        "ID": ID_VALUE,
        "VERSION": register("VERSION").pack(major=VERSION[0], minor=VERSION[1],
                                            patch=VERSION[2]),
        "PARAMS0": register("PARAMS0").pack(lanes=p["lanes"], ways=geometry.ways,
                                            set_bits=geometry.set_bits,
                                            table_bits=geometry.table_bits),
        "PARAMS1": register("PARAMS1").pack(row_bits=geometry.row_bits,
                                            max_lookups=p["max_lookups"],
                                            num_tables=p["num_tables"],
                                            bus_bytes=p["bus_bytes"]),
        "PARAMS2": register("PARAMS2").pack(max_dim=p["max_dim"],
                                            reads_in_flight=p["reads_in_flight"]),
        "PARAMS3": p["capacity"],
    }


def markdown(num_tables: int) -> str:
    """The register map as a Markdown table (for ``rtl/hotline_top.md``)."""
    lines = ["| address | name | access | fields (lsb:width) | description |",
             "|---|---|---|---|---|"]
    for r in REGISTERS:
        fields = ", ".join(f"{f.name} [{f.lsb + f.width - 1}:{f.lsb}]" for f in r.fields)
        reset = f" Reset {r.reset:#x}." if r.access == "rw" else ""
        lines.append(f"| `{r.address:#05x}` | {r.name} | {r.access} | {fields} | "
                     f"{r.doc}{reset} |")
    last = TABLE_BASE + TABLE_STRIDE * (num_tables - 1)
    for name, (offset, doc) in TABLE_REGISTERS.items():
        lines.append(f"| `{TABLE_BASE + offset:#05x}` + 16 t (to `{last + offset:#05x}`) | "
                     f"{name}[t] | rw | value [31:0] | {doc} |")
    return "\n".join(lines) + "\n"
