# dataset.pull: the holder of a live grant, approved by enough distinct
# approvers, pulls the granted fields.
package qiao

grant := input.request.grant

has_grant if is_object(input.request.grant)

pull_denials contains "无授权 / no grant" if not has_grant

pull_denials contains "非授权持有人 / not the grant holder" if {
	has_grant
	not holds_grant
}

holds_grant if {
	nonblank(grant.holder)
	grant.holder == input.subject.principal
}

pull_denials contains "审计员与管理员不提取数据 / auditors and admins read no data" if {
	some role in {"auditor", "admin"}
	has_role(role)
}

pull_denials contains "授权已撤销 / grant revoked" if {
	has_grant
	not live_grant
}

live_grant if grant.revoked == false

pull_denials contains "授权已过期 / grant expired" if {
	has_grant
	not before_expiry
}

expire_ns := time.parse_rfc3339_ns(grant.expire_time)

before_expiry if expire_ns > input.env.time_ns

pull_denials contains "提取次数已用尽 / pulls exhausted" if {
	has_grant
	not pulls_left
}

pulls_left if {
	is_number(grant.pulls)
	is_number(grant.max_pulls)
	grant.pulls >= 0
	grant.pulls < grant.max_pulls
}

pull_denials contains "审批人数不足 / not enough approvals" if count(approvers) < approvals_required

pull_denials contains "申请已被驳回 / request was denied" if {
	some a in input.request.approvals
	a.approved == false
}

pull_denials contains "授权未包含任何字段 / grant covers no fields" if {
	has_grant
	not grant_lists_fields
}

grant_lists_fields if count(grant.fields) > 0

pull_denials contains "授权字段不属于该数据集 / a granted field is not in the dataset" if {
	unknown_field(grant.fields, granted_names)
}

pull_denials contains "授权字段重复 / a field is granted twice" if {
	count(granted_names) != count({n | some n in granted_names})
}

pull_denials contains "授权脱敏方式无效 / unknown masking in grant" if bad_masking(grant.fields)

granted_names := [f.field | some f in grant.fields]

# The distinct people who approved the request, never its requester.
approvers contains a.approver if {
	some a in input.request.approvals
	a.approved == true
	nonblank(a.approver)
	a.approver != input.request.requester
}

# Whole seconds until the grant expires, 0 once it has.
grant_remaining_seconds := max([0, floor((expire_ns - input.env.time_ns) / 1000000000)])
