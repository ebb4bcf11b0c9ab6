# dataset.pull: the holder of a live grant, approved by enough distinct
# approvers, pulls the granted fields.
package qiao

grant := input.request.grant

has_grant if is_object(input.request.grant)

denials contains "无授权 / no grant" if {
	input.action == "dataset.pull"
	not has_grant
}

denials contains "非授权持有人 / not the grant holder" if {
	input.action == "dataset.pull"
	has_grant
	not holds_grant
}

holds_grant if {
	nonblank(grant.holder)
	grant.holder == input.subject.principal
}

denials contains "审计员与管理员不提取数据 / auditors and admins read no data" if {
	input.action == "dataset.pull"
	some role in {"auditor", "admin"}
	has_role(role)
}

denials contains "授权已撤销 / grant revoked" if {
	input.action == "dataset.pull"
	has_grant
	not live_grant
}

live_grant if grant.revoked == false

denials contains "授权已过期 / grant expired" if {
	input.action == "dataset.pull"
	has_grant
	not before_expiry
}

before_expiry if time.parse_rfc3339_ns(grant.expire_time) > input.env.time_ns

denials contains "提取次数已用尽 / pulls exhausted" if {
	input.action == "dataset.pull"
	has_grant
	not pulls_left
}

pulls_left if {
	is_number(grant.pulls)
	is_number(grant.max_pulls)
	grant.pulls >= 0
	grant.pulls < grant.max_pulls
}

denials contains "审批人数不足 / not enough approvals" if {
	input.action == "dataset.pull"
	count(approvers) < approvals_required
}

denials contains "申请已被驳回 / request was denied" if {
	input.action == "dataset.pull"
	some a in input.request.approvals
	a.approved == false
}

denials contains "授权未包含任何字段 / grant covers no fields" if {
	input.action == "dataset.pull"
	has_grant
	count([f | some f in grant.fields]) == 0
}

denials contains "授权字段不属于该数据集 / a granted field is not in the dataset" if {
	input.action == "dataset.pull"
	unknown_field(grant.fields)
}

denials contains "授权字段重复 / a field is granted twice" if {
	input.action == "dataset.pull"
	duplicate_field(grant.fields)
}

denials contains "授权脱敏方式无效 / unknown masking in grant" if {
	input.action == "dataset.pull"
	bad_masking(grant.fields)
}

# The distinct people who approved the request, never its requester.
approvers contains a.approver if {
	some a in input.request.approvals
	a.approved == true
	nonblank(a.approver)
	a.approver != input.request.requester
}

# Whole seconds until the grant expires, 0 once it has.
grant_remaining_seconds := max([0, floor((time.parse_rfc3339_ns(grant.expire_time) - input.env.time_ns) / 1000000000)])
