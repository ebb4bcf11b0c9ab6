-- medins.third_party_injury 医保基金第三方责任支付
-- A trauma settlement with fund payment admitted from day 0 to day
-- $window_days after an incident: a traffic accident in which the person's
-- responsibility was 次要 or 无, or the accident date of a court award of
-- medical costs to the person. One lead per person and incident date.
WITH incidents AS (
    SELECT a.id_number_tok AS subject, a.accident_date AS incident_date,
           'police.traffic_accidents' AS dataset, a.principal, a.batch_id, a.row_no,
           MAP {'accident_no': a.accident_no, 'id_number': a.id_number_tok} AS rkey
    FROM police__traffic_accidents a
    WHERE a.responsibility IN ('次要', '无')
      AND a.id_number_tok IS NOT NULL AND a.accident_date IS NOT NULL
    UNION ALL
    SELECT c.plaintiff_id_number_tok, c.accident_date,
           'court.civil_compensations', c.principal, c.batch_id, c.row_no,
           MAP {'case_no': c.case_no, 'plaintiff_id_number': c.plaintiff_id_number_tok}
    FROM court__civil_compensations c
    WHERE c.medical_costs_awarded > 0
      AND c.plaintiff_id_number_tok IS NOT NULL AND c.accident_date IS NOT NULL
),
matched AS (
    SELECT i.subject, i.incident_date, i.dataset, i.principal, i.batch_id, i.row_no, i.rkey,
           s.settlement_no, s.fund_paid, s.principal AS s_principal, s.batch_id AS s_batch_id,
           s.row_no AS s_row_no
    FROM incidents i
    JOIN medins__settlements s ON s.id_number_tok = i.subject
    WHERE (upper(s.diagnosis_code) LIKE 'S%' OR upper(s.diagnosis_code) LIKE 'T%' OR s.injury)
      AND s.fund_paid > 0
      AND s.admission_date >= i.incident_date
      AND date_diff('day', i.incident_date, s.admission_date) <= $window_days
),
lead_incidents AS (
    SELECT subject, incident_date,
           string_agg(DISTINCT dataset, ',' ORDER BY dataset) AS incident_dataset,
           list({'dataset': dataset, 'principal': principal, 'batch_id': batch_id,
                 'row_no': row_no, 'key': rkey}) AS evidence
    FROM (SELECT DISTINCT ON (subject, incident_date, dataset, principal, batch_id, row_no) *
          FROM matched)
    GROUP BY subject, incident_date
),
lead_settlements AS (
    SELECT subject, incident_date,
           count(*) AS settlement_count,
           string_agg(settlement_no, ',' ORDER BY settlement_no) AS settlements,
           sum(fund_paid) AS fund_paid_total,
           list({'dataset': 'medins.settlements', 'principal': s_principal, 'batch_id': s_batch_id,
                 'row_no': s_row_no, 'key': MAP {'settlement_no': settlement_no}}) AS evidence
    FROM (SELECT DISTINCT ON (subject, incident_date, s_principal, s_batch_id, s_row_no) *
          FROM matched)
    GROUP BY subject, incident_date
)
SELECT i.subject,
       list_concat(i.evidence, s.evidence)             AS evidence,
       1                                               AS priority,
       strftime(i.incident_date, '%Y-%m-%d')           AS incident_date,
       i.incident_dataset,
       CAST(s.settlement_count AS VARCHAR)             AS settlement_count,
       s.settlements,
       CAST(s.fund_paid_total AS VARCHAR)              AS fund_paid_total,
       CAST($window_days AS VARCHAR)                   AS window_days
FROM lead_incidents i
JOIN lead_settlements s USING (subject, incident_date)
ORDER BY i.subject, i.incident_date
