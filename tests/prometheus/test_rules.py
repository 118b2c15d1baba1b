"""The alerting rules: the shipped alerts.yml and the ones pstatus writes,
checked and unit-tested with ``promtool``."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from lovely.ws.status.prometheus import ALERTS_FILE, read_file
from lovely.ws.status.prometheus.rules import HandlerRule, alert_rules, handler_rules
from lovely.ws.status.render.prometheus import escape_label_value

from ..helpers import fixed, make_config
from ..servers import need_binary

HERE = Path(__file__).resolve().parent


def promtool(*args, cwd=None):
    result = subprocess.run([need_binary("promtool"), *args], capture_output=True,
                            timeout=120, cwd=cwd)
    return result.returncode, (result.stdout + result.stderr).decode(errors="replace")


def check_rules(tmp_path, text, name="rules.yml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, output = promtool("check", "rules", str(path))
    assert code == 0, output
    return output


def test_the_shipped_file_is_what_the_generator_writes():
    assert read_file(ALERTS_FILE) == alert_rules()


def test_promtool_checks_the_shipped_rules(tmp_path):
    output = check_rules(tmp_path, read_file(ALERTS_FILE))
    assert "SUCCESS: 6 rules found" in output


def test_promtool_unit_tests_of_the_shipped_rules(tmp_path):
    (tmp_path / "alerts.yml").write_text(read_file(ALERTS_FILE), encoding="utf-8")
    shutil.copy(HERE / "alerts_test.yml", tmp_path)
    code, output = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert code == 0, output


def test_promtool_unit_tests_really_fail(tmp_path):
    # a rule that fires on label samples (1.0's layout) fails the tests
    broken = read_file(ALERTS_FILE).replace(
        '"(svc_status == 2) unless on (job, instance, name)',
        '"(svc_status == 2 or svc_status_label == 2) unless on (job, instance, name)')
    assert broken != read_file(ALERTS_FILE)
    (tmp_path / "alerts.yml").write_text(broken, encoding="utf-8")
    shutil.copy(HERE / "alerts_test.yml", tmp_path)
    code, output = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert code != 0
    assert "StatusHandlerRed" in output


def fors(text):
    """``{(alert, selector): for}`` of a rule file."""
    found = {}
    for alert, expr, wait in re.findall(
            r"- alert: (\w+)\n\s+expr: (.*)\n\s+for: (\w+)", text):
        selector = re.search(r'name(=~?)\\"(.*?)\\"', expr)
        found[(alert, selector.group(2) if selector else None)] = wait
    return found


def test_for_follows_timeouts_ttls_and_the_scrape_interval():
    rules = [HandlerRule("db", 5.0), HandlerRule("cache", 5.0),
             HandlerRule("slow", 100.0), HandlerRule("cached", 5.0, ttl=600.0)]
    text = alert_rules(rules, job="app", scrape_interval=15)
    got = fors(text)
    # RED: three scrapes (45 s: 1m), or twice the ttl plus the timeout
    assert got[("StatusHandlerRed", "db|cache")] == "1m"
    assert got[("StatusHandlerRed", "slow")] == "2m"  # 100 s
    assert got[("StatusHandlerRed", "cached")] == "21m"  # 1205 s
    # YELLOW, and non-critical RED: five times as long
    assert got[("StatusHandlerYellow", "db|cache")] == "5m"
    assert got[("StatusHandlerRedNonCritical", "cached")] == "105m"
    assert got[("StatusHandlerTimedOut", "slow")] == "2m"
    assert 'svc_status_duration_seconds{job=\\"app\\", name=\\"slow\\"} >= 99' in text
    assert got[("StatusInstanceOutOfRotation", None)] == "30m"
    assert 'up{job=\\"app\\"} == 0' in text
    # Prometheus' default scrape interval, one minute
    assert fors(alert_rules(rules))[("StatusHandlerRed", "db|cache")] == "3m"


def test_rules_for_the_handlers_of_an_app():
    config = make_config(settings={"svcstatus.timeout": "2"})
    config.add_status_handler("db", fixed(state="OK"), timeout=30)
    config.add_status_handler("cache", fixed(state="OK"), ttl=120)
    config.add_status_handler("disk", fixed(state="OK"))
    config.commit()
    from lovely.ws.status.appstatus import get_app_status

    assert handler_rules(get_app_status(config.registry)) == [
        HandlerRule("cache", 2.0, 120.0), HandlerRule("db", 30.0), HandlerRule("disk", 2.0),
    ]


HOSTILE = ['quote"d', "back\\slash", "new\nline", "dot.star*", "(a|b)", "caf\u00e9 \U0001f600",
           "", "{curly}", "lone \ud800", "$dollar^"]


def test_promtool_checks_rules_for_any_names(tmp_path):
    rules = [HandlerRule(name, 5.0) for name in HOSTILE] + [HandlerRule("alone", 7.0)]
    check_rules(tmp_path, alert_rules(rules, job='my "job"'))


def test_generated_rules_select_exactly_their_handlers(tmp_path):
    """A unit test of generated rules: the regular expression of a group of
    handlers matches their names and no other."""
    names = ["a.b", "a|b", "x\\y", 'q"uote', "new\nline", "lone \ud800"]
    rules = [HandlerRule(name, 5.0) for name in names] + [HandlerRule("slow", 200.0)]
    check_rules(tmp_path, alert_rules(rules), "alerts.yml")

    def value(name):  # the label value Prometheus reads back
        return name.encode("utf-8", "backslashreplace").decode("utf-8")

    lines = ["rule_files: [alerts.yml]", "evaluation_interval: 1m", "tests:",
             "  - interval: 1m", "    input_series:"]
    for name in names + ["aXb", "slow", "other"]:
        selector = 'svc_status{job="app", instance="a:1", name="%s"}' % escape_label_value(name)
        lines += [f"      - series: {json.dumps(selector)}", "        values: '2x10'"]
    lines += ["    alert_rule_test:"]

    def expect(minutes, which):
        lines.extend([f"      - eval_time: {minutes}m", "        alertname: StatusHandlerRed",
                      "        exp_alerts:"])
        for name in which:
            lines.extend([
                "          - exp_labels:",
                "              severity: critical", "              job: app",
                "              instance: a:1", f"              name: {json.dumps(value(name))}",
                "            exp_annotations:",
                f"              summary: {json.dumps(value(name) + ' is RED on a:1')}",
                "              description: " + json.dumps(
                    f"The status handler {value(name)} has been RED for {minutes} minutes."),
            ])

    # the group of five-second handlers fires after 3 minutes; "slow" (200 s
    # timeout) after 4; "aXb" and "other" have no rules
    expect(3, names)
    (tmp_path / "test.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, output = promtool("test", "rules", "test.yml", cwd=tmp_path)
    assert code == 0, output


def test_non_critical_handlers_are_marked_for_the_rules():
    # The shipped rules tell non-critical handlers by svc_status_critical == 0.
    from prometheus_client.parser import text_string_to_metric_families

    from lovely.ws.status import OK, RED

    from ..helpers import make_app

    def setup(config):
        config.add_status_handler("cache", lambda: {"state": RED}, critical=False)
        config.add_status_handler("db", lambda: {"state": OK})

    text = make_app(setup=setup).get("/svc_status.prometheus").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = [(s.labels, s.value) for s in families["svc_status_critical"].samples]
    assert samples == [({"name": "cache"}, 0.0)]
    plain = make_app().get("/svc_status.prometheus").text
    assert "svc_status_critical" not in plain
