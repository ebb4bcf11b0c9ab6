-- court.probation_detained 缓刑期间被羁押
-- A defendant on probation detained by the police during the probation
-- period: from the effective date to the effective date plus the
-- probation months minus one day, both included. One lead per person and
-- detention.
WITH probation AS (
    SELECT j.*,
           CAST(j.effective_date + to_months(CAST(j.probation_months AS INTEGER)) AS DATE) - 1 AS probation_end
    FROM court__criminal_judgments j
    WHERE j.probation AND j.effective_date IS NOT NULL AND j.probation_months IS NOT NULL
      AND j.defendant_id_number_tok IS NOT NULL
),
hits AS (
    SELECT d.id_number_tok AS subject, d.start_date, d.end_date, d.detention_type, d.facility,
           d.principal AS d_principal, d.batch_id AS d_batch_id, d.row_no AS d_row_no,
           p.case_no, p.probation_months, p.effective_date, p.probation_end,
           p.principal, p.batch_id, p.row_no
    FROM probation p
    JOIN police__detentions d ON d.id_number_tok = p.defendant_id_number_tok
    WHERE d.start_date >= p.effective_date AND d.start_date <= p.probation_end
)
SELECT subject,
       list_concat(
           list({'dataset': 'court.criminal_judgments', 'principal': principal, 'batch_id': batch_id,
                 'row_no': row_no, 'key': MAP {'case_no': case_no, 'defendant_id_number': subject}}
                ORDER BY case_no),
           [{'dataset': 'police.detentions', 'principal': d_principal, 'batch_id': d_batch_id,
             'row_no': d_row_no,
             'key': MAP {'id_number': subject, 'start_date': strftime(start_date, '%Y-%m-%d')}}]) AS evidence,
       1                                                                     AS priority,
       string_agg(case_no, ',' ORDER BY case_no)                             AS case_no,
       CAST(arg_max(probation_months, effective_date) AS VARCHAR)            AS probation_months,
       strftime(max(effective_date), '%Y-%m-%d')                             AS probation_start,
       strftime(arg_max(probation_end, effective_date), '%Y-%m-%d')          AS probation_end,
       strftime(start_date, '%Y-%m-%d')                                      AS detention_start,
       coalesce(strftime(any_value(end_date), '%Y-%m-%d'), '')               AS detention_end,
       coalesce(CAST(any_value(detention_type) AS VARCHAR), '')              AS detention_type,
       coalesce(any_value(facility), '')                                     AS facility
FROM hits
GROUP BY subject, start_date, d_principal, d_batch_id, d_row_no
ORDER BY subject, start_date
