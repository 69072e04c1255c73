"""User-interface strings of the human-readable reports (csv, md, html), in en and zh-TW.

Finding texts come from the catalog; this module holds only labels (column
headers, severity names, section titles). ``label(key, lang)`` raises KeyError
for an unknown key so a typo fails the tests, and a test checks both languages
have the same keys.
"""

from __future__ import annotations

from smbguard.catalog.loader import LANGS, default_lang, normalize_lang
from smbguard.model import Confidence, Severity

__all__ = ["LABELS", "LANGS", "confidence_label", "default_lang", "label", "part_label", "severity_label"]

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "report_title": "smbguard SMB security report",
        "generated": "Generated",
        "scan_started": "Scan started",
        "scan_finished": "Scan finished",
        "targets": "Targets",
        "interrupted": "The scan was interrupted: results are incomplete.",
        "summary": "Summary",
        "hosts_scanned": "Hosts scanned",
        "hosts_reachable": "SMB reachable",
        "hosts_affected": "Hosts with findings",
        "findings_total": "Findings",
        "by_severity": "Findings by severity",
        "top_findings": "Top findings",
        "hosts_label": "host(s)",
        "host_table": "Hosts",
        "filter_placeholder": "Filter: address, name, OS, finding...",
        "all_severities": "All severities",
        "min_severity": "at least",
        "rows_shown": "shown",
        "address": "Address",
        "port": "Port",
        "name": "Name",
        "os": "OS / build",
        "smb1": "SMB1",
        "dialects": "SMB2/3 dialects",
        "signing": "Signing",
        "null_guest": "Null / guest",
        "worst": "Worst",
        "findings": "Findings",
        "finding": "Finding",
        "severity": "Severity",
        "confidence": "Confidence",
        "evidence": "Evidence",
        "share": "Share",
        "title": "Title",
        "affected_hosts": "Affected hosts",
        "description": "Description",
        "impact": "Impact",
        "remediation": "Remediation",
        "references": "References",
        "cvss": "CVSS 3.1",
        "cve": "CVE",
        "kb": "Microsoft KB",
        "no_findings": "No findings: nothing to fix on the hosts that answered.",
        "yes": "yes",
        "no": "no",
        "unknown": "unknown",
        "required": "required",
        "not_required": "not required",
        "disabled": "disabled",
        "unreachable": "not reachable",
        "language": "中文",
        "since_last": "Since the previous scan",
        "fixed": "fixed",
        "new": "new",
        "still_open": "still open",
        "hosts_fixed": "{n} host(s) fixed: {title}",
        "hosts_new": "{n} host(s) newly affected: {title}",
        "copy": "Copy",
        "status": "Status",
        "no_findings_row": "no findings",
        "csv_remediation": "Remediation (PowerShell)",
        "csv_samba": "Remediation (smb.conf)",
    },
    "zh-TW": {
        "report_title": "smbguard SMB 安全性報告",
        "generated": "產生時間",
        "scan_started": "掃描開始",
        "scan_finished": "掃描結束",
        "targets": "掃描目標",
        "interrupted": "掃描中途被中斷：結果並不完整。",
        "summary": "摘要",
        "hosts_scanned": "掃描主機數",
        "hosts_reachable": "可連線 SMB",
        "hosts_affected": "有弱點的主機",
        "findings_total": "弱點總數",
        "by_severity": "依嚴重程度統計",
        "top_findings": "最常見的弱點",
        "hosts_label": "台主機",
        "host_table": "主機清單",
        "filter_placeholder": "篩選：位址、名稱、作業系統、弱點……",
        "all_severities": "所有嚴重程度",
        "min_severity": "至少",
        "rows_shown": "筆顯示中",
        "address": "位址",
        "port": "連接埠",
        "name": "名稱",
        "os": "作業系統／組建",
        "smb1": "SMB1",
        "dialects": "SMB2/3 版本",
        "signing": "簽章",
        "null_guest": "匿名／Guest",
        "worst": "最高嚴重度",
        "findings": "弱點",
        "finding": "弱點",
        "severity": "嚴重程度",
        "confidence": "可信度",
        "evidence": "佐證",
        "share": "共用資料夾",
        "title": "標題",
        "affected_hosts": "受影響的主機",
        "description": "說明",
        "impact": "影響",
        "remediation": "修正方式",
        "references": "參考資料",
        "cvss": "CVSS 3.1",
        "cve": "CVE",
        "kb": "Microsoft KB",
        "no_findings": "沒有發現弱點：有回應的主機都不需要修正。",
        "yes": "是",
        "no": "否",
        "unknown": "未知",
        "required": "強制",
        "not_required": "未強制",
        "disabled": "停用",
        "unreachable": "無法連線",
        "language": "English",
        "since_last": "與上次掃描相比",
        "fixed": "已修正",
        "new": "新發現",
        "still_open": "仍未修正",
        "hosts_fixed": "{n} 台主機已修正：{title}",
        "hosts_new": "{n} 台主機新出現：{title}",
        "copy": "複製",
        "status": "狀態",
        "no_findings_row": "沒有弱點",
        "csv_remediation": "修正方式（PowerShell）",
        "csv_samba": "修正方式（smb.conf）",
    },
}

_SEVERITY = {
    "en": {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low", "info": "Info"},
    "zh-TW": {"critical": "嚴重", "high": "高", "medium": "中", "low": "低", "info": "資訊"},
}

_CONFIDENCE = {
    "en": {"confirmed": "confirmed", "likely": "likely", "possible": "possible"},
    "zh-TW": {"confirmed": "已確認", "likely": "很可能", "possible": "有可能"},
}

_PARTS = {
    "en": {
        "windows_server_gui": "Windows Server (Server Manager / GUI)",
        "windows_client_gui": "Windows client (Control Panel / GUI)",
        "powershell": "PowerShell",
        "group_policy": "Group Policy / registry",
        "samba": "Samba (smb.conf)",
        "firewall": "Firewall",
        "verify": "Verify the fix",
    },
    "zh-TW": {
        "windows_server_gui": "Windows Server（伺服器管理員／圖形介面）",
        "windows_client_gui": "Windows 用戶端（控制台／圖形介面）",
        "powershell": "PowerShell",
        "group_policy": "群組原則／登錄",
        "samba": "Samba（smb.conf）",
        "firewall": "防火牆",
        "verify": "確認修正結果",
    },
}


def label(key: str, lang: str) -> str:
    return LABELS[normalize_lang(lang)][key]


def severity_label(severity: Severity, lang: str) -> str:
    return _SEVERITY[normalize_lang(lang)][severity.label]


def confidence_label(confidence: Confidence | str, lang: str) -> str:
    value = confidence.value if isinstance(confidence, Confidence) else confidence
    return _CONFIDENCE[normalize_lang(lang)].get(value, value)


def part_label(part: str, lang: str) -> str:
    return _PARTS[normalize_lang(lang)][part]
