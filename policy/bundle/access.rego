# Pushes, audit reads, principal management and model reads: the actions
# decided by who the subject is alone.
package qiao

# dataset.push: agencies push their own kind's datasets.

push_denials contains "仅机构可推送数据 / only agencies push datasets" if not is_kind("agency")

push_denials contains "机构只能推送本机构数据集 / an agency pushes only its own datasets" if not owns_resource

owns_resource if {
	nonblank(input.resource.owner)
	agency_kind == input.resource.owner
}

# audit.read: auditors only.

audit_denials contains "需要审计员角色 / auditor role required" if not has_role("auditor")

# principal.manage: admins only.

manage_denials contains "需要管理员角色 / admin role required" if not has_role("admin")

# lead.read: the procuratorate's staff who handle cases (requesters and the
# data-acquisition team) read the leads the models found.

lead_denials contains "仅检察院人员可查阅线索 / only the procuratorate's staff read leads" if not procuratorate_staff

procuratorate_staff if {
	is_kind("user")
	startswith(input.subject.agency, "procuratorate.")
	some role in ["requester", "approver"]
	has_role(role)
}

# model.read: a model reads only the datasets it declared.

model_denials contains "仅模型可执行 / only models run" if not is_kind("model")

model_denials contains "模型未声明该数据集 / dataset not declared by the model" if not declared_dataset

declared_dataset if {
	nonblank(input.resource.dataset)
	input.resource.dataset in input.subject.datasets
}
