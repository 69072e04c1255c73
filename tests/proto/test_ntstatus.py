from __future__ import annotations

from smbguard.proto.ntstatus import NTStatus, dos_error_to_status, is_error, status_name


def test_names() -> None:
    assert status_name(0xC0000205) == "STATUS_INSUFF_SERVER_RESOURCES"
    assert status_name(NTStatus.LOGON_FAILURE) == "STATUS_LOGON_FAILURE"
    assert status_name(0xC0FFEE00) == "0xC0FFEE00"
    assert NTStatus.INVALID_SMB == 0x00010002
    assert is_error(NTStatus.ACCESS_DENIED) and not is_error(NTStatus.MORE_PROCESSING_REQUIRED - 0xC0000000)


def test_dos_errors() -> None:
    assert dos_error_to_status(0, 0) == NTStatus.SUCCESS
    assert dos_error_to_status(0x02, 0x0002) == NTStatus.WRONG_PASSWORD
    assert dos_error_to_status(0x01, 0x00AB) == 0x00AB0001
