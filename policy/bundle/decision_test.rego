package qiao_test

import data.qiao

now := "2026-11-26T08:00:00Z"

now_ns := time.parse_rfc3339_ns(now)

env := {"time": now, "time_ns": now_ns}

settlements := {
	"dataset": "medins.settlements",
	"owner": "medins",
	"classification": "sensitive",
	"fields": [
		{"name": "settlement_no", "pii": false},
		{"name": "id_number", "pii": true},
		{"name": "name", "pii": true},
		{"name": "total_cost", "pii": false},
	],
}

accidents := {
	"dataset": "police.traffic_accidents",
	"owner": "police",
	"classification": "internal",
	"fields": [
		{"name": "accident_no", "pii": false},
		{"name": "id_number", "pii": true},
		{"name": "name", "pii": true},
		{"name": "responsibility", "pii": false},
	],
}

requester := {"principal": "user:li", "kind": "user", "agency": "procuratorate.411528", "roles": ["requester"], "datasets": []}

approver(name) := {"principal": name, "kind": "user", "agency": "procuratorate.411528", "roles": ["approver"], "datasets": []}

police_agency := {"principal": "police.411528", "kind": "agency", "agency": "police.411528", "roles": [], "datasets": []}

test_decision_has_every_key if {
	d := qiao.decision with input as {"action": "nothing.at.all", "subject": requester, "env": env}
	object.keys(d) == {"allow", "needs_approvals", "mask", "max_rows", "max_pulls", "ttl_seconds", "reasons"}
	d.allow == false
	d.reasons == ["未知操作 / unknown action"]
	d.mask == {}
	d.needs_approvals == 0
	d.max_rows == 0
	d.max_pulls == 0
	d.ttl_seconds == 0
}

test_empty_input_denied if {
	d := qiao.decision with input as {}
	d.allow == false
	"未知操作 / unknown action" in d.reasons
}

test_unknown_classification_denied if {
	r := object.union(accidents, {"classification": "secret"})
	d := qiao.decision with input as {"action": "dataset.push", "subject": police_agency, "resource": r, "env": env}
	d.allow == false
	d.reasons == ["数据集密级未知 / unknown dataset classification"]
}

test_allowed_reason_is_the_action_s if {
	d := qiao.decision with input as {"action": "dataset.push", "subject": police_agency, "resource": accidents, "env": env}
	d.allow == true
	d.reasons == ["机构推送本机构数据集 / an agency pushes its own dataset"]
}

test_reasons_are_bilingual if {
	every r in qiao.granted {
		contains(r, " / ")
	}
	d := qiao.decision with input as {"action": "request.create", "subject": {}, "resource": {}, "request": {}, "env": env}
	count(d.reasons) > 3
	every r in d.reasons {
		contains(r, " / ")
	}
}
