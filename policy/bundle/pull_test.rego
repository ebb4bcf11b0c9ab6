package qiao_test

import data.qiao

in_a_day := "2026-11-27T08:00:00Z"

grant := {
	"id": "grant-1",
	"holder": "user:li",
	"expire_time": in_a_day,
	"pulls": 0,
	"max_pulls": 10,
	"revoked": false,
	"fields": [
		{"field": "settlement_no", "masking": ""},
		{"field": "id_number", "masking": "token"},
		{"field": "name", "masking": "partial"},
	],
}

approved := object.union(request, {
	"state": "approved",
	"approvals": [
		{"approver": "user:a", "approved": true},
		{"approver": "user:b", "approved": true},
	],
	"grant": grant,
})

pull(subject, req, resource) := d if {
	d := qiao.decision with input as {"action": "dataset.pull", "subject": subject, "resource": resource, "request": req, "env": env}
}

with_grant(g) := object.union(approved, {"grant": object.union(grant, g)})

test_pull_allowed if {
	d := pull(requester, approved, settlements)
	d.allow
	d.reasons == ["授权有效，可提取 / grant is valid, pull allowed"]
	d.mask == {"settlement_no": "none", "id_number": "token", "name": "partial", "total_cost": "drop"}
	d.needs_approvals == 2
	d.ttl_seconds == 86400
	d.max_pulls == 10
	d.max_rows == 100000
}

test_pull_full_masking_gives_plain_values if {
	r := with_grant({"fields": [{"field": "id_number", "masking": "full"}]})
	d := pull(requester, r, settlements)
	d.allow
	d.mask.id_number == "none"
}

test_pull_by_other_than_holder_denied if {
	d := pull(object.union(requester, {"principal": "user:zhang"}), approved, settlements)
	d.allow == false
	d.reasons == ["非授权持有人 / not the grant holder"]
}

test_pull_without_grant_denied if {
	d := pull(requester, object.remove(approved, {"grant"}), settlements)
	d.allow == false
	d.reasons == ["无授权 / no grant"]
	d.ttl_seconds == 0
	d.max_pulls == 0
}

test_pull_expired_denied if {
	d := pull(requester, with_grant({"expire_time": now}), settlements)
	d.allow == false
	d.reasons == ["授权已过期 / grant expired"]
	d.ttl_seconds == 0
}

test_pull_revoked_denied if {
	d := pull(requester, with_grant({"revoked": true}), settlements)
	d.allow == false
	d.reasons == ["授权已撤销 / grant revoked"]
	r := object.union(object.remove(approved, {"grant"}), {"grant": object.remove(grant, {"revoked"})})
	pull(requester, r, settlements).allow == false
}

test_pull_exhausted_denied if {
	d := pull(requester, with_grant({"pulls": 10}), settlements)
	d.allow == false
	d.reasons == ["提取次数已用尽 / pulls exhausted"]
	pull(requester, with_grant({"pulls": 9}), settlements).allow
}

test_pull_sensitive_needs_two_distinct_approvers if {
	one := object.union(approved, {"approvals": [
		{"approver": "user:a", "approved": true},
		{"approver": "user:a", "approved": true},
	]})
	d := pull(requester, one, settlements)
	d.allow == false
	d.reasons == ["审批人数不足 / not enough approvals"]
}

test_pull_requester_approval_does_not_count if {
	own := object.union(approved, {"approvals": [
		{"approver": "user:li", "approved": true},
		{"approver": "user:a", "approved": true},
	]})
	pull(requester, own, settlements).allow == false
}

test_pull_internal_needs_one if {
	r := object.union(approved, {
		"approvals": [{"approver": "user:a", "approved": true}],
		"grant": object.union(grant, {"fields": [{"field": "id_number", "masking": "partial"}]}),
	})
	pull(requester, r, accidents).allow
	full := object.union(r, {"grant": object.union(grant, {"fields": [{"field": "id_number", "masking": "full"}]})})
	d := pull(requester, full, accidents)
	d.allow == false
	d.needs_approvals == 2
}

test_pull_denied_request_refused if {
	r := object.union(approved, {"approvals": array.concat(approved.approvals, [{"approver": "user:c", "approved": false}])})
	d := pull(requester, r, settlements)
	d.allow == false
	d.reasons == ["申请已被驳回 / request was denied"]
}

test_auditors_and_admins_never_pull if {
	every role in {"auditor", "admin"} {
		s := object.union(requester, {"roles": ["requester", role]})
		d := pull(s, approved, settlements)
		d.allow == false
		d.reasons == ["审计员与管理员不提取数据 / auditors and admins read no data"]
	}
}

test_pull_grant_without_fields_key_denied if {
	r := object.union(object.remove(approved, {"grant"}), {"grant": object.remove(grant, {"fields"})})
	d := pull(requester, r, settlements)
	d.reasons == ["授权未包含任何字段 / grant covers no fields"]
	d.mask == {"settlement_no": "drop", "id_number": "drop", "name": "drop", "total_cost": "drop"}
}

test_pull_bad_grant_fields_denied if {
	none := pull(requester, with_grant({"fields": []}), settlements)
	none.reasons == ["授权未包含任何字段 / grant covers no fields"]
	unknown := pull(requester, with_grant({"fields": [{"field": "responsibility", "masking": ""}]}), settlements)
	unknown.reasons == ["授权字段不属于该数据集 / a granted field is not in the dataset"]
	twice := pull(requester, with_grant({"fields": [{"field": "name", "masking": ""}, {"field": "name", "masking": "token"}]}), settlements)
	twice.reasons == ["授权字段重复 / a field is granted twice"]
	twice.mask.name == "drop"
	bad := pull(requester, with_grant({"fields": [{"field": "name", "masking": "hash"}]}), settlements)
	bad.reasons == ["授权脱敏方式无效 / unknown masking in grant"]
}

test_pull_several_failures_all_named if {
	r := with_grant({"revoked": true, "expire_time": now, "pulls": 10, "holder": "user:zhang"})
	d := pull(requester, object.union(r, {"approvals": []}), settlements)
	d.allow == false
	d.reasons == sort([
		"非授权持有人 / not the grant holder",
		"授权已撤销 / grant revoked",
		"授权已过期 / grant expired",
		"提取次数已用尽 / pulls exhausted",
		"审批人数不足 / not enough approvals",
	])
}
