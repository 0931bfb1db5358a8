"""The functions a query or a policy body may call: an allowlist, everything else is denied.

A denylist cannot keep up with DuckDB: every release adds functions, and some of them read outside the
query's rows — `stats(col)` returns the whole table's min/max (real SSNs of rows the row policy hides),
`pg_get_viewdef` shows a secure view's definition, `query()` runs arbitrary SQL. So the firewall names
the functions it trusts — pure scalar, aggregate and window functions of the Snowflake-compatible set
the dialect supports, each computing only from its arguments — and denies any other, including any
function a future DuckDB adds. `tests/governance/test_functions.py` lists every function DuckDB knows
and asserts that each one the firewall lets through is named here.

sqlglot turns many calls into typed nodes (`max(x)` → `exp.Max`, `unnest(x)` → `exp.Explode`), and the
SQL the twin runs is generated from those nodes: a typed node's DuckDB function is decided by its class,
not by how the user spelled it. So typed classes are allowed by class, and the allowed classes are
derived from the allowed names (a class is trusted only if an allowed name parses to it); untyped calls
(`exp.Anonymous`) by their name.
"""

from __future__ import annotations

import re
from functools import cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError

# Pure functions of their arguments, by DuckDB name (lower case). Nothing here reads a table, a file,
# a setting, the catalog, table statistics or a sequence, sleeps, logs, or changes state.
_SCALAR = """
abs acos asin atan atan2 cbrt ceil ceiling cos cot degrees even exp factorial floor gcd greatest
greatest_common_divisor isfinite isinf isnan lcm least least_common_multiple ln log log10 log2 mod pi
pow power radians round round_even sign signbit sin sqrt tan trunc
ascii bit_length char_length character_length chr concat concat_ws contains ends_with format ilike_escape
instr lcase left len length levenshtein like_escape lower lpad ltrim md5 not_ilike_escape not_like_escape
octet_length position prefix printf regexp_extract regexp_extract_all regexp_full_match regexp_matches
regexp_replace regexp_split_to_array repeat replace reverse right rpad rtrim sha1 sha256 split split_part
starts_with str_split string_split string_to_array strip_accents strlen strpos substr substring suffix
translate trim ucase upper unicode jaro_similarity jaro_winkler_similarity hamming
damerau_levenshtein to_base64 from_base64 base64 hex unhex
age current_date current_timestamp date_add date_diff date_part date_sub date_trunc datediff datepart
datesub datetrunc day dayname dayofmonth dayofweek dayofyear epoch epoch_ms extract hour isodow isoyear
last_day make_date make_time make_timestamp microsecond millisecond minute month monthname now quarter
second strftime strptime time_bucket to_days to_hours to_microseconds to_milliseconds to_minutes
to_months to_seconds to_timestamp to_weeks to_years today try_strptime week weekday weekofyear year
yearweek
coalesce ifnull nullif if nvl nvl2
array_contains array_distinct array_extract array_has array_length array_position array_slice array_sort
array_to_string array_value cardinality element_at flatten list_append list_concat
list_contains list_distinct list_element list_extract list_filter list_has list_has_all list_has_any
list_position list_prepend list_reverse_sort array_reverse_sort list_slice list_sort list_transform
list_reduce list_value xor
list_sum list_min list_max list_avg list_count list_unique
struct_extract struct_pack map map_extract map_keys map_values
json_extract json_extract_path json_extract_path_text json_extract_string json_array_length json_keys
json_type json_valid json_value json_object json_array to_json
hash typeof
"""
_AGGREGATE = """
any_value approx_count_distinct approx_quantile arbitrary arg_max arg_min argmax argmin array_agg avg
bit_and bit_or bit_xor bool_and bool_or corr count count_if countif covar_pop covar_samp first
group_concat kurtosis last list listagg mad max max_by mean median min min_by mode product quantile
quantile_cont quantile_disc percentile_cont percentile_disc regr_avgx regr_avgy regr_count regr_intercept
regr_r2 regr_slope regr_sxx regr_sxy regr_syy skewness stddev stddev_pop stddev_samp string_agg sum
var_pop var_samp variance
"""
_WINDOW = """
cume_dist dense_rank first_value lag last_value lead nth_value ntile percent_rank rank row_number
"""
# Snowflake's context functions: the firewall and the policy compiler rewrite them into reads of the
# session's identity (twin.governance.context) before the SQL runs.
_CONTEXT = "current_role current_user invoker_role is_role_in_session"

ALLOWED: frozenset[str] = frozenset((_SCALAR + _AGGREGATE + _WINDOW + _CONTEXT).split())
# Snowflake spellings a query in Snowflake's dialect may use on top: sqlglot reads each into a typed
# node whose DuckDB SQL is built from allowed functions or plain syntax (IFF → CASE, DIV0 → CASE,
# DATEADD → `+ INTERVAL`, TO_VARCHAR → CAST or STRFTIME), which the every-DuckDB-function test checks.
_SNOWFLAKE = """
iff zeroifnull div0 to_varchar to_char to_date to_number to_decimal to_numeric dateadd timestampadd
timestampdiff
"""
SNOWFLAKE_ONLY: frozenset[str] = frozenset(_SNOWFLAKE.split())
DIALECTS = ("duckdb", "snowflake")

# Syntax that sqlglot models as a function but a user writes without a function name: AND, OR, EXISTS,
# CAST(x AS t), CASE, EXTRACT(part FROM d), list, struct and map literals, `a || b`, `@>`, COLLATE.
# Casts are allowed to safe types only (SAFE_TYPES).
_SYNTAX: frozenset[type] = frozenset(
    getattr(exp, n)
    for n in ("And", "Or", "Xor", "Exists", "Cast", "TryCast", "Case", "Extract", "Array", "Struct", "ToMap",
              "DPipe", "Coalesce", "If", "Count", "ArrayContainsAll", "ArrayContainedBy", "Collate",
              "CurrentTime")
    if hasattr(exp, n)
)  # fmt: skip

# Classes never trusted, whatever name parses to them: they reach rows, files or the catalog
# (COLUMNS(*) and unnest/generate_series change the query's shape or size, not a value of a row).
_NEVER = frozenset(
    getattr(exp, n)
    for n in ("Columns", "Explode", "ExplodeOuter", "Unnest", "GenerateSeries", "GenerateDateArray",
              "ReadCSV", "ReadParquet", "CurrentSchema", "CurrentDatabase", "CurrentCatalog",
              "CurrentVersion")
    if hasattr(exp, n)
)  # fmt: skip

# Data types a CAST (or `::`) may name. A user-defined type, an enum reading a query, or a type the
# twin does not know is refused, like an unknown function.
_T = exp.DataType.Type
SAFE_TYPES: frozenset[exp.DType] = frozenset(  # DType: the enum DataType.Type names
    getattr(_T, n)
    for n in (
        "TINYINT", "SMALLINT", "INT", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINT", "UBIGINT",
        "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "BIGDECIMAL", "VARCHAR", "NVARCHAR", "CHAR", "NCHAR",
        "TEXT", "BOOLEAN", "DATE", "TIME", "TIMETZ", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMPLTZ",
        "TIMESTAMPNTZ", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIME", "INTERVAL", "UUID",
        "ARRAY", "LIST", "STRUCT", "MAP", "JSON",
    )
    if hasattr(_T, n)
)  # fmt: skip


def _parse_call(name: str, dialect: str = "duckdb") -> exp.Expr | None:
    """`SELECT name(a, …)` with the fewest arguments sqlglot accepts, or None."""
    for n in range(4):
        args = ", ".join(f"a{i}" for i in range(n))
        try:
            return sqlglot.parse_one(f"SELECT {name}({args})", read=dialect)
        except (ParseError, TokenError, ValueError):
            continue
    return None


@cache
def allowed_classes(dialect: str = "duckdb") -> frozenset[type]:
    """Typed function classes trusted: those an allowed name parses to, plus plain syntax.

    For Snowflake's dialect, the DuckDB set plus what the allowed and Snowflake-only names parse to in
    it: a class's DuckDB SQL does not depend on the dialect it was read in (Snowflake's parser reads
    `TO_VARCHAR('2024-01-02'::DATE, 'yyyy')` straight into DuckDB's strftime class).
    """
    if dialect == "duckdb":
        names, out = ALLOWED, set(_SYNTAX)
    else:
        names, out = ALLOWED | SNOWFLAKE_ONLY, set(allowed_classes("duckdb"))
    for name in names:
        tree = _parse_call(name, dialect)
        if tree is None:
            continue
        for node in tree.find_all(exp.Func):
            if not isinstance(node, exp.Anonymous):
                out.add(type(node))
    return frozenset(out - _NEVER)


_CALLED = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def func_name(node: exp.Func) -> str:
    """The name to show in a denial: as written for an untyped call; for a typed one, the DuckDB
    function it would run (`unnest`, not sqlglot's `explode`), else sqlglot's name for it."""
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    try:
        m = _CALLED.match(node.sql(dialect="duckdb"))
    except (SqlglotError, ValueError, RecursionError):
        m = None
    return m.group(1).lower() if m else node.sql_name().lower()


def denied_function(node: exp.Func, dialect: str = "duckdb") -> str | None:
    """The function's name when the allowlist does not trust it, else None.

    An untyped call runs in DuckDB as written, so it is judged by its DuckDB name in either dialect.
    """
    if isinstance(node, exp.Anonymous):
        name = str(node.name)
        return None if name.lower() in ALLOWED else name
    return None if type(node) in allowed_classes(dialect) else func_name(node)


# Functions whose output size is set by an argument, not by the rows: `repeat('x', 3e9)` is one 3 GB
# value that DuckDB's memory limit does not see. Their size argument must be a literal within the bound,
# so a query cannot build a value bigger than a row could be. printf/format widths live in the format.
MAX_GENERATED_CHARS = 1_000_000
_SIZED_ARG = {"repeat": 1, "lpad": 1, "rpad": 1, "list_resize": 1, "array_resize": 1}
_FORMATTED = {"printf", "format"}
_WIDTH = re.compile(r"\d+")


def _literal_int(node: exp.Expression | None) -> int | None:
    if isinstance(node, exp.Neg):
        return None  # negative sizes are harmless to DuckDB but not worth admitting
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(float(node.this))
        except (TypeError, ValueError, OverflowError):
            return None
    return None


def oversized_call(node: exp.Func) -> str | None:
    """Why a size-setting call is refused (its size not a literal, or over the bound), else None."""
    name = func_name(node).lower()
    if name in _SIZED_ARG:
        if isinstance(node, exp.Repeat):
            size_node = node.args.get("times")
        elif isinstance(node, exp.Pad):
            size_node = node.args.get("expression")
        else:
            args = node.expressions if isinstance(node, exp.Anonymous) else list(node.args.values())
            i = _SIZED_ARG[name]
            size_node = args[i] if len(args) > i and isinstance(args[i], exp.Expression) else None
        size = _literal_int(size_node)
        if size is None or size > MAX_GENERATED_CHARS:
            return (
                f"{name}() needs a literal size of at most {MAX_GENERATED_CHARS:,} "
                "(a computed or larger size could build a value bigger than any row)"
            )
    elif name in _FORMATTED:
        fmt = node.expressions[0] if isinstance(node, exp.Anonymous) and node.expressions else node.this
        if not (isinstance(fmt, exp.Literal) and fmt.is_string):
            return f"{name}() needs a literal format string"
        widths = [int(w) for w in _WIDTH.findall(str(fmt.this))]
        if widths and max(widths) > MAX_GENERATED_CHARS:
            return f"{name}() width over {MAX_GENERATED_CHARS:,} characters"
    return None


def denied_type(node: exp.DataType) -> str | None:
    """The type's name when a cast may not name it, else None."""
    return None if node.this in SAFE_TYPES else node.sql(dialect="duckdb")
