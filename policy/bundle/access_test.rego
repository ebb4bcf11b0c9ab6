package qiao_test

import data.qiao

push(subject, resource) := d if {
	d := qiao.decision with input as {"action": "dataset.push", "subject": subject, "resource": resource, "env": env}
}

test_push_own_dataset_allowed if {
	push(police_agency, accidents).allow
}

test_push_other_agency_dataset_denied if {
	d := push(police_agency, settlements)
	d.allow == false
	d.reasons == ["机构只能推送本机构数据集 / an agency pushes only its own datasets"]
}

test_push_by_user_denied if {
	u := object.union(police_agency, {"kind": "user", "principal": "police.411528"})
	d := push(u, accidents)
	d.allow == false
	d.reasons == ["仅机构可推送数据 / only agencies push datasets"]
}

test_push_prefix_is_before_first_dot if {
	a := object.union(police_agency, {"principal": "policeman.1"})
	push(a, accidents).allow == false
	b := object.union(police_agency, {"principal": "police"})
	push(b, accidents).allow
}

test_push_without_owner_or_kind_denied if {
	r := object.remove(accidents, {"owner"})
	push(police_agency, r).allow == false
	a := object.remove(police_agency, {"kind"})
	push(a, accidents).allow == false
}

test_audit_read_auditor_only if {
	auditor := {"principal": "user:wang", "kind": "user", "roles": ["auditor"]}
	d := qiao.decision with input as {"action": "audit.read", "subject": auditor, "env": env}
	d.allow
	e := qiao.decision with input as {"action": "audit.read", "subject": requester, "env": env}
	e.allow == false
	e.reasons == ["需要审计员角色 / auditor role required"]
}

test_principal_manage_admin_only if {
	admin := {"principal": "user:zhao", "kind": "user", "roles": ["admin"]}
	d := qiao.decision with input as {"action": "principal.manage", "subject": admin, "env": env}
	d.allow
	e := qiao.decision with input as {"action": "principal.manage", "subject": approver("user:a"), "env": env}
	e.allow == false
	e.reasons == ["需要管理员角色 / admin role required"]
}

test_lead_read_procuratorate_staff_only if {
	d := qiao.decision with input as {"action": "lead.read", "subject": requester, "env": env}
	d.allow
	d.reasons == ["检察院办案人员查阅线索 / procuratorate staff read leads"]
	a := qiao.decision with input as {"action": "lead.read", "subject": approver("user:a"), "env": env}
	a.allow
	auditor := {"principal": "user:wang", "kind": "user", "agency": "procuratorate.411528", "roles": ["auditor"]}
	e := qiao.decision with input as {"action": "lead.read", "subject": auditor, "env": env}
	e.allow == false
	e.reasons == ["仅检察院人员可查阅线索 / only the procuratorate's staff read leads"]
	p := qiao.decision with input as {"action": "lead.read", "subject": police_agency, "env": env}
	p.allow == false
	other := object.union(requester, {"agency": "court.411528"})
	o := qiao.decision with input as {"action": "lead.read", "subject": other, "env": env}
	o.allow == false
}

model := {"principal": "model:medins.third_party_injury", "kind": "model", "roles": [], "datasets": ["medins.settlements", "police.traffic_accidents"]}

test_model_reads_declared_dataset_as_tokens if {
	d := qiao.decision with input as {"action": "model.read", "subject": model, "resource": settlements, "env": env}
	d.allow
	d.mask == {"settlement_no": "none", "id_number": "token", "name": "token", "total_cost": "none"}
	d.needs_approvals == 0
}

test_model_undeclared_dataset_denied if {
	r := object.union(settlements, {"dataset": "hrss.pension_payments", "owner": "hrss"})
	d := qiao.decision with input as {"action": "model.read", "subject": model, "resource": r, "env": env}
	d.allow == false
	d.reasons == ["模型未声明该数据集 / dataset not declared by the model"]
}

test_model_read_by_non_model_denied if {
	u := object.union(model, {"kind": "user"})
	d := qiao.decision with input as {"action": "model.read", "subject": u, "resource": settlements, "env": env}
	d.allow == false
	d.reasons == ["仅模型可执行 / only models run"]
}
