package qiao_test

import data.qiao

request := {
	"id": "req-1",
	"requester": "user:li",
	"state": "",
	"purpose": "核查医保基金第三方责任支付",
	"legal_basis": "社会保险法 第三十条",
	"case_number": "（2026）豫1528检123号",
	"fields": [
		{"field": "settlement_no", "masking": ""},
		{"field": "id_number", "masking": "token"},
		{"field": "name", "masking": ""},
	],
	"duration_seconds": 0,
	"max_pulls": 0,
	"approvals": [],
}

create(req, resource) := d if {
	d := qiao.decision with input as {"action": "request.create", "subject": requester, "resource": resource, "request": req, "env": env}
}

with_fields(fields) := object.union(request, {"fields": fields})

test_create_sensitive_needs_two if {
	d := create(request, settlements)
	d.allow
	d.needs_approvals == 2
	d.mask == {"settlement_no": "none", "id_number": "token", "name": "partial", "total_cost": "drop"}
	d.ttl_seconds == 604800
	d.max_pulls == 10
	d.max_rows == 100000
}

test_create_internal_needs_one if {
	r := with_fields([{"field": "accident_no", "masking": ""}, {"field": "id_number", "masking": "partial"}])
	d := create(r, accidents)
	d.allow
	d.needs_approvals == 1
	d.mask == {"accident_no": "none", "id_number": "partial", "name": "drop", "responsibility": "drop"}
}

test_create_internal_full_needs_two if {
	r := with_fields([{"field": "id_number", "masking": "full"}, {"field": "responsibility", "masking": ""}])
	d := create(r, accidents)
	d.allow
	d.needs_approvals == 2
	d.mask == {"accident_no": "drop", "id_number": "none", "name": "drop", "responsibility": "none"}
}

test_create_masking_of_non_pii_is_none if {
	r := with_fields([{"field": "accident_no", "masking": "token"}])
	d := create(r, accidents)
	d.mask.accident_no == "none"
}

test_create_missing_justification_names_each if {
	r := object.union(request, {"purpose": " ", "legal_basis": "", "case_number": "\t"})
	d := create(r, settlements)
	d.allow == false
	d.reasons == sort([
		"缺少用途 / purpose missing",
		"缺少法律依据 / legal basis missing",
		"缺少案号 / case number missing",
	])
}

test_create_missing_keys_denied if {
	r := object.remove(request, {"purpose", "legal_basis", "case_number", "fields"})
	d := create(r, settlements)
	d.allow == false
	"缺少用途 / purpose missing" in d.reasons
	"缺少法律依据 / legal basis missing" in d.reasons
	"缺少案号 / case number missing" in d.reasons
	"未申请任何字段 / no fields requested" in d.reasons
}

test_create_no_request_denied if {
	d := qiao.decision with input as {"action": "request.create", "subject": requester, "resource": settlements, "env": env}
	d.allow == false
	d.reasons == sort([
		"缺少用途 / purpose missing",
		"缺少法律依据 / legal basis missing",
		"缺少案号 / case number missing",
		"未申请任何字段 / no fields requested",
	])
	d.ttl_seconds == 604800
	d.mask == {"settlement_no": "drop", "id_number": "drop", "name": "drop", "total_cost": "drop"}
}

test_create_needs_requester_role if {
	s := object.union(requester, {"roles": ["approver"]})
	d := qiao.decision with input as {"action": "request.create", "subject": s, "resource": settlements, "request": request, "env": env}
	d.allow == false
	d.reasons == ["需要申请人角色 / requester role required"]
}

test_create_in_someone_elses_name_denied if {
	r := object.union(request, {"requester": "user:zhang"})
	d := create(r, settlements)
	d.allow == false
	d.reasons == ["只能以本人名义申请 / a request is filed in one's own name"]
}

test_create_no_fields_denied if {
	d := create(with_fields([]), settlements)
	d.allow == false
	d.reasons == ["未申请任何字段 / no fields requested"]
}

test_create_unknown_field_denied if {
	d := create(with_fields([{"field": "diagnosis_code", "masking": ""}]), accidents)
	d.allow == false
	d.reasons == ["申请字段不属于该数据集 / a requested field is not in the dataset"]
}

test_create_duplicate_field_denied_and_dropped if {
	r := with_fields([{"field": "id_number", "masking": "token"}, {"field": "id_number", "masking": "full"}])
	d := create(r, accidents)
	d.allow == false
	d.reasons == ["申请字段重复 / a field is requested twice"]
	d.mask.id_number == "drop"
}

test_create_unknown_masking_denied if {
	r := with_fields([{"field": "id_number", "masking": "hash"}, {"field": "name"}])
	d := create(r, accidents)
	d.allow == false
	d.reasons == ["脱敏方式无效 / unknown masking requested"]
	d.mask.id_number == "drop"
	d.mask.name == "drop"
}

test_create_duration if {
	day := 86400
	create(object.union(request, {"duration_seconds": day}), settlements).ttl_seconds == day
	create(object.union(request, {"duration_seconds": 30 * day}), settlements).ttl_seconds == 30 * day
	long := create(object.union(request, {"duration_seconds": (30 * day) + 1}), settlements)
	long.allow == false
	long.reasons == ["申请期限超过30天 / duration longer than 30 days"]
	long.ttl_seconds == 0
	neg := create(object.union(request, {"duration_seconds": -1}), settlements)
	neg.allow == false
	neg.reasons == ["申请期限无效 / invalid duration"]
	str := create(object.union(request, {"duration_seconds": "1"}), settlements)
	str.allow == false
	frac := create(object.union(request, {"duration_seconds": 1.5}), settlements)
	frac.allow == false
}

test_create_max_pulls if {
	create(object.union(request, {"max_pulls": 1}), settlements).max_pulls == 1
	create(object.union(request, {"max_pulls": 100}), settlements).max_pulls == 100
	d := create(object.union(request, {"max_pulls": 101}), settlements)
	d.allow == false
	d.reasons == ["提取次数超出范围(1至100) / max pulls out of range (1 to 100)"]
	d.max_pulls == 0
	create(object.union(request, {"max_pulls": -1}), settlements).allow == false
	create(object.union(request, {"max_pulls": "5"}), settlements).allow == false
	create(object.remove(request, {"max_pulls", "duration_seconds"}), settlements).max_pulls == 10
}

pending := object.union(request, {"state": "pending"})

decide(action, subject, req, resource) := d if {
	d := qiao.decision with input as {"action": action, "subject": subject, "resource": resource, "request": req, "env": env}
}

test_approve_allowed if {
	d := decide("request.approve", approver("user:a"), pending, settlements)
	d.allow
	d.needs_approvals == 2
	d.reasons == ["审批人可审批该申请 / approver may approve this request"]
	d.mask.id_number == "token"
}

test_approve_internal_echoes_one if {
	r := object.union(pending, {"fields": [{"field": "accident_no", "masking": ""}]})
	d := decide("request.approve", approver("user:a"), r, accidents)
	d.allow
	d.needs_approvals == 1
}

test_deny_allowed if {
	d := decide("request.deny", approver("user:a"), pending, settlements)
	d.allow
	d.reasons == ["审批人可驳回该申请 / approver may deny this request"]
}

test_deny_allowed_for_an_incomplete_request if {
	r := object.union(pending, {"purpose": "", "fields": []})
	decide("request.deny", approver("user:a"), r, settlements).allow
	decide("request.approve", approver("user:a"), r, settlements).allow == false
}

test_own_request_cannot_be_decided if {
	s := object.union(approver("user:li"), {"roles": ["requester", "approver"]})
	every action in {"request.approve", "request.deny"} {
		d := decide(action, s, pending, settlements)
		d.allow == false
		d.reasons == ["申请人不能审批本人申请 / a requester cannot decide their own request"]
	}
}

test_request_without_requester_cannot_be_decided if {
	r := object.remove(pending, {"requester"})
	decide("request.approve", approver("user:a"), r, settlements).allow == false
}

test_approver_decides_once if {
	r := object.union(pending, {"approvals": [{"approver": "user:a", "approved": true}]})
	d := decide("request.approve", approver("user:a"), r, settlements)
	d.allow == false
	d.reasons == ["该审批人已处理此申请 / this approver already decided the request"]
	decide("request.deny", approver("user:a"), r, settlements).allow == false
	decide("request.approve", approver("user:b"), r, settlements).allow
}

test_only_pending_requests_are_decided if {
	every state in {"", "approved", "denied", "expired"} {
		r := object.union(pending, {"state": state})
		d := decide("request.approve", approver("user:a"), r, settlements)
		d.allow == false
		d.reasons == ["申请不在待审批状态 / request is not pending"]
	}
}

test_deciding_needs_approver_role if {
	d := decide("request.approve", requester, object.union(pending, {"requester": "user:zhang"}), settlements)
	d.allow == false
	d.reasons == ["需要审批人角色 / approver role required"]
}

test_create_field_entries_missing_keys_denied if {
	nofield := create(with_fields([{"masking": ""}]), accidents)
	nofield.allow == false
	nofield.reasons == ["申请字段不属于该数据集 / a requested field is not in the dataset"]
	nomasking := create(with_fields([{"field": "name"}]), accidents)
	nomasking.allow == false
	nomasking.reasons == ["脱敏方式无效 / unknown masking requested"]
}

test_request_without_state_cannot_be_decided if {
	r := object.remove(pending, {"state"})
	d := decide("request.deny", approver("user:a"), r, settlements)
	d.reasons == ["申请不在待审批状态 / request is not pending"]
}
