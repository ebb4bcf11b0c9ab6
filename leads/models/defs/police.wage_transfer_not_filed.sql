-- police.wage_transfer_not_filed 拒不支付劳动报酬移送未立案
-- A labour-inspection case transferred to the police more than
-- $window_days days before the as-of date, with no matched case record
-- filed by day $window_days after the transfer. Case records match by
-- transfer number; only if none does, by the responsible person's token
-- with a receipt on or after the transfer date. One lead per inspection.
WITH insp AS (
    SELECT * FROM hrss__labor_inspections
    WHERE transfer_date IS NOT NULL
      AND date_diff('day', transfer_date, CAST($as_of AS DATE)) > $window_days
),
by_no AS (
    SELECT i.inspection_no, i.principal AS i_principal, i.batch_id AS i_batch_id, i.row_no AS i_row_no,
           'transfer_no' AS matched_by, c.*
    FROM insp i
    JOIN police__case_records c ON c.transfer_no = i.transfer_no
    WHERE i.transfer_no IS NOT NULL
),
by_person AS (
    SELECT i.inspection_no, i.principal AS i_principal, i.batch_id AS i_batch_id, i.row_no AS i_row_no,
           'person' AS matched_by, c.*
    FROM insp i
    JOIN police__case_records c
      ON c.suspect_id_number_tok = i.responsible_id_number_tok
     AND c.received_date >= i.transfer_date
    WHERE NOT EXISTS (SELECT 1 FROM by_no b
                      WHERE b.inspection_no = i.inspection_no AND b.i_principal = i.principal
                        AND b.i_batch_id = i.batch_id AND b.i_row_no = i.row_no)
),
records AS (
    SELECT * FROM by_no UNION ALL SELECT * FROM by_person
),
filed AS (
    SELECT DISTINCT r.i_principal, r.i_batch_id, r.i_row_no
    FROM records r
    JOIN insp i ON i.principal = r.i_principal AND i.batch_id = r.i_batch_id AND i.row_no = r.i_row_no
    WHERE r.filed_date IS NOT NULL
      AND date_diff('day', i.transfer_date, r.filed_date) <= $window_days
),
matched AS (
    SELECT i_principal, i_batch_id, i_row_no,
           any_value(matched_by) AS matched_by,
           count(*) AS record_count,
           list({'dataset': 'police.case_records', 'principal': principal, 'batch_id': batch_id,
                 'row_no': row_no,
                 'key': MAP {'case_no': case_no, 'suspect_id_number': coalesce(suspect_id_number_tok, '')}}
                ORDER BY case_no) AS evidence,
           string_agg(case_no, ',' ORDER BY case_no) AS case_nos
    FROM records
    GROUP BY i_principal, i_batch_id, i_row_no
)
SELECT coalesce(i.responsible_id_number_tok, i.employer_credit_code_tok, '') AS subject,
       list_concat(
           [{'dataset': 'hrss.labor_inspections', 'principal': i.principal, 'batch_id': i.batch_id,
             'row_no': i.row_no, 'key': MAP {'inspection_no': i.inspection_no}}],
           coalesce(m.evidence, [])) AS evidence,
       1                                                                      AS priority,
       i.inspection_no,
       i.employer,
       CAST(i.amount_owed AS VARCHAR)                                         AS amount_owed,
       CAST(i.workers AS VARCHAR)                                             AS workers,
       strftime(i.transfer_date, '%Y-%m-%d')                                  AS transfer_date,
       i.transfer_no,
       CAST(date_diff('day', i.transfer_date, CAST($as_of AS DATE)) AS VARCHAR) AS days_since_transfer,
       coalesce(m.matched_by, 'none')                                         AS matched_by,
       coalesce(m.case_nos, '')                                               AS case_records,
       CAST($window_days AS VARCHAR)                                          AS window_days
FROM insp i
LEFT JOIN matched m ON m.i_principal = i.principal AND m.i_batch_id = i.batch_id AND m.i_row_no = i.row_no
WHERE NOT EXISTS (SELECT 1 FROM filed f
                  WHERE f.i_principal = i.principal AND f.i_batch_id = i.batch_id AND f.i_row_no = i.row_no)
ORDER BY i.inspection_no
