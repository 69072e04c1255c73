"""JSON / JSONL reporters against the published schema."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import pytest

from smbguard.model import HostResult, ScanInfo, ScanReport
from smbguard.report import REPORTERS, StreamingReporter, get_reporter
from smbguard.report.json import host_json, host_to_dict
from tests.report.samples import T0, closed, hostile, samba_smb1_guest, with_finding


def load_schema() -> dict[str, Any]:
    text = resources.files("smbguard").joinpath("schema/scan.schema.json").read_text()
    schema = json.loads(text)
    assert isinstance(schema, dict)
    return schema


SCHEMA = load_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
HOST_VALIDATOR = jsonschema.Draft202012Validator(
    {"$ref": "#/$defs/host", "$defs": SCHEMA["$defs"]}, format_checker=jsonschema.FormatChecker()
)


def report(*hosts: HostResult, interrupted: bool = False) -> ScanReport:
    info = ScanInfo(T0, T0, ("127.0.12.1-30", "--format", "json"), "0.1.0", ("127.0.12.1-30",), interrupted)
    return ScanReport(info=info, hosts=hosts)


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_json_report_validates_and_carries_the_facts() -> None:
    rep = report(with_finding(samba_smb1_guest()), HostResult(hostile()), HostResult(closed()))
    doc = json.loads(get_reporter("json").render(rep))
    VALIDATOR.validate(doc)
    assert doc["scan"]["interrupted"] is False
    assert doc["scan"]["host_count"] == 3
    assert doc["scan"]["targets"] == ["127.0.12.1-30"]
    h = doc["hosts"][0]
    assert (h["address"], h["port"], h["reachable"], h["port_state"]) == ("127.0.12.1", 445, True, "open")
    assert h["smb1"]["enabled"] is True and h["smb1"]["native_lan_manager"] == "Samba 4.17.12-Debian"
    assert h["smb2"]["dialects"] == ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"]
    assert h["smb2"]["security_modes"]["3.1.1"] == 1
    assert h["signing"] == {
        "enabled": True,
        "required": False,
        "smb1_required": False,
        "smb2_required": False,
    }
    assert h["ntlm"]["version"] == "6.1.0" and h["ntlm"]["build"] == 0
    assert h["sessions"]["null"] is True and h["sessions"]["guest"] is True
    assert h["findings"][0]["id"] == "smb1-enabled" and h["findings"][0]["severity"] == "high"
    assert h["smb2"]["system_time"] == "2026-11-28T08:00:00+00:00"
    c = doc["hosts"][2]
    assert c["reachable"] is False and c["port_state"] == "closed"
    # facts that were never probed are null with a reason, not guessed
    assert c["smb1"]["enabled"] is None and c["smb1"]["reason"] == "not probed"
    assert c["smb2"]["dialects"] == [] and c["smb2"]["decided"] is False
    assert c["ntlm"]["version"] is None


def test_every_host_has_the_same_keys() -> None:
    dicts = [host_to_dict(HostResult(f)) for f in (samba_smb1_guest(), hostile(), closed())]
    assert dicts[0].keys() == dicts[1].keys() == dicts[2].keys()


def test_hostile_strings_survive_as_json_strings() -> None:
    doc = json.loads(get_reporter("json").render(report(HostResult(hostile()))))
    assert doc["hosts"][0]["smb1"]["server_name"] == "EVIL\x1b[2J\x07name"
    assert doc["hosts"][0]["errors"] == [
        {"probe": "smb2", "kind": "protocol", "message": "not an SMB2 header"}
    ]


def test_jsonl_is_one_valid_host_per_line() -> None:
    reporter = get_reporter("jsonl")
    assert isinstance(reporter, StreamingReporter)
    hosts = [with_finding(samba_smb1_guest()), HostResult(hostile()), HostResult(closed())]
    text = "".join(reporter.render_host(h) for h in hosts) + reporter.render(report(*hosts))
    lines = text.splitlines()
    assert len(lines) == 3
    for line, h in zip(lines, hosts, strict=True):
        obj = json.loads(line)
        HOST_VALIDATOR.validate(obj)
        assert obj["address"] == h.facts.target.address


def test_schema_rejects_a_broken_host() -> None:
    doc = json.loads(get_reporter("json").render(report(HostResult(samba_smb1_guest()))))
    doc["hosts"][0]["smb2"]["dialects"] = ["2.2"]
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(doc)
    doc = json.loads(get_reporter("json").render(report(HostResult(samba_smb1_guest()))))
    doc["hosts"][0]["reachable"] = False  # contradicts port_state "open"
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(doc)
    doc = json.loads(get_reporter("json").render(report(HostResult(samba_smb1_guest()))))
    del doc["hosts"][0]["signing"]
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(doc)


def test_reporters_are_registered_in_one_place() -> None:
    assert {"json", "jsonl", "table"} <= set(REPORTERS)
    with pytest.raises(KeyError, match="unknown format"):
        get_reporter("nope")


def test_template_fast_path_equals_the_full_conversion() -> None:
    from smbguard.model import PortState, ProbeError
    from smbguard.report.json import _full_dict

    filtered = HostResult(
        closed().__class__(
            target=closed().target,
            port_state=PortState.FILTERED,
            connect_ms=3000.0,
            started=T0,
            finished=T0,
            errors=(ProbeError("connect", "timeout", "no answer within 3s"),),
        )
    )
    for h in (HostResult(closed()), filtered, HostResult(samba_smb1_guest()), HostResult(hostile())):
        assert host_to_dict(h) == _full_dict(h)
        # the string fast path writes exactly what encoding the full object gives
        assert host_json(h) == json.dumps(_full_dict(h), ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("n_hosts", [0, 1, 3])
def test_stream_writer_writes_the_same_document_as_the_reporter(n_hosts: int) -> None:
    import io

    from smbguard.report.json import JsonStreamWriter

    hosts = [with_finding(samba_smb1_guest()), HostResult(hostile()), HostResult(closed())][:n_hosts]
    rep = report(*hosts)
    writer = JsonStreamWriter()
    for h in hosts:
        writer.host(h)
    out = io.StringIO()
    writer.finish(rep.info, out)
    assert out.getvalue() == get_reporter("json").render(rep)
    VALIDATOR.validate(json.loads(out.getvalue()))
