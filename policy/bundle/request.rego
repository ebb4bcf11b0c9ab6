# Access requests (request.create, request.approve, request.deny) and what
# they share with pulls: how many approvals data needs, how fields are
# masked, and the limits of a grant.
package qiao

# The maskings a requester may ask for; "" means the default (partial).
maskings := {"", "partial", "token", "full"}

# request.create: a requester files a request in their own name.

create_denials contains "需要申请人角色 / requester role required" if not has_role("requester")

create_denials contains "只能以本人名义申请 / a request is filed in one's own name" if {
	nonblank(input.request.requester)
	input.request.requester != input.subject.principal
}

# Filing or approving: the request must say why, under which law, for
# which case, and which fields, with limits in range.

filing_denials contains "缺少用途 / purpose missing" if not justified("purpose")

filing_denials contains "缺少法律依据 / legal basis missing" if not justified("legal_basis")

filing_denials contains "缺少案号 / case number missing" if not justified("case_number")

justified(key) if nonblank(input.request[key])

filing_denials contains "未申请任何字段 / no fields requested" if not request_lists_fields

request_lists_fields if count(input.request.fields) > 0

filing_denials contains "申请字段不属于该数据集 / a requested field is not in the dataset" if {
	unknown_field(input.request.fields, requested_names)
}

filing_denials contains "申请字段重复 / a field is requested twice" if {
	count(requested_names) != count({n | some n in requested_names})
}

filing_denials contains "脱敏方式无效 / unknown masking requested" if bad_masking(input.request.fields)

filing_denials contains "申请期限无效 / invalid duration" if not valid_duration

filing_denials contains "申请期限超过30天 / duration longer than 30 days" if {
	valid_duration
	requested_duration > longest_ttl_seconds
}

filing_denials contains "提取次数超出范围(1至100) / max pulls out of range (1 to 100)" if not valid_pulls

requested_names := [f.field | some f in input.request.fields]

# request.approve and request.deny: an approver who is not the requester
# decides a pending request once.

deciding_denials contains "需要审批人角色 / approver role required" if not has_role("approver")

deciding_denials contains "申请人不能审批本人申请 / a requester cannot decide their own request" if not decided_by_other

decided_by_other if {
	nonblank(input.request.requester)
	input.request.requester != input.subject.principal
}

deciding_denials contains "该审批人已处理此申请 / this approver already decided the request" if {
	some a in input.request.approvals
	a.approver == input.subject.principal
}

deciding_denials contains "申请不在待审批状态 / request is not pending" if not pending

pending if input.request.state == "pending"

# Field lists, a request's or a grant's, and the names listed in them. A
# field is unknown if it is not the resource's, or if an entry names none.

unknown_field(fields, names) if count(names) != count(fields)

unknown_field(_, names) if {
	some n in names
	not n in resource_fields
}

bad_masking(fields) if {
	some f in fields
	not known_masking(f)
}

known_masking(f) if f.masking in maskings

# Approvals: sensitive data, data asked for unmasked, or a dataset of
# unknown classification needs two distinct approvers; internal data one.

default needs_approvals := 0

needs_approvals := approvals_required if input.action in {"request.create", "request.approve", "request.deny", "dataset.pull"}

approvals_required := 1 if {
	input.resource.classification == "internal"
	not asks_full
} else := 2

asks_full if {
	some f in input.request.fields
	f.masking == "full"
}

asks_full if {
	some f in input.request.grant.fields
	f.masking == "full"
}

# Masks: every field of the resource gets one. A request's or grant's field
# list decides: a field not listed, or listed twice, is dropped; a listed
# field that is not personal data goes out as is; personal data goes out
# partially masked (the default), as a token, or unmasked when "full" was
# asked and approved. A model reads personal data as tokens only.

default mask := {}

mask := {f.name: field_mask(f) | some f in input.resource.fields} if {
	input.action in {"request.create", "request.approve", "request.deny", "dataset.pull", "model.read"}
}

masked_fields := input.request.fields if input.action in {"request.create", "request.approve", "request.deny"}

masked_fields := input.request.grant.fields if input.action == "dataset.pull"

# The masking asked for each field listed exactly once.
asked := {name: m |
	some f in masked_fields
	name := f.field
	count([g | some g in masked_fields; g.field == name]) == 1
	m := f.masking
}

field_mask(f) := "token" if {
	input.action == "model.read"
	f.pii == true
} else := "none" if {
	input.action == "model.read"
} else := m if {
	m := masking_of(f.pii == true, asked[f.name])
} else := "drop"

masking_of(false, _) := "none"

masking_of(true, "") := "partial"

masking_of(true, "partial") := "partial"

masking_of(true, "token") := "token"

masking_of(true, "full") := "none"

# Limits of the grant a request asks for: duration (0 = default) and pulls
# (0 = default). Values out of range are refused above and give 0 here.

default requested_duration := 0

requested_duration := input.request.duration_seconds

valid_duration if {
	is_number(requested_duration)
	requested_duration >= 0
	round(requested_duration) == requested_duration
}

request_ttl := default_ttl_seconds if requested_duration == 0

request_ttl := requested_duration if {
	valid_duration
	requested_duration > 0
	requested_duration <= longest_ttl_seconds
}

default requested_pulls := 0

requested_pulls := input.request.max_pulls

valid_pulls if requested_pulls == 0

valid_pulls if {
	is_number(requested_pulls)
	requested_pulls >= 1
	requested_pulls <= most_pulls
	round(requested_pulls) == requested_pulls
}

request_pulls := default_max_pulls if requested_pulls == 0

request_pulls := requested_pulls if {
	valid_pulls
	requested_pulls > 0
}

default ttl_seconds := 0

ttl_seconds := request_ttl if input.action in {"request.create", "request.approve", "request.deny"}

ttl_seconds := grant_remaining_seconds if input.action == "dataset.pull"

default max_pulls := 0

max_pulls := request_pulls if input.action in {"request.create", "request.approve", "request.deny"}

max_pulls := input.request.grant.max_pulls if {
	input.action == "dataset.pull"
	is_number(input.request.grant.max_pulls)
}

default max_rows := 0

max_rows := default_max_rows if input.action in {"request.create", "request.approve", "request.deny", "dataset.pull"}
