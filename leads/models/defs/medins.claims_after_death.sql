-- medins.claims_after_death 死亡后医保结算
-- Settlements with admission strictly after the date of death. One lead
-- per person.
WITH deaths AS (
    SELECT * FROM police__deaths
    WHERE id_number_tok IS NOT NULL AND death_date IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY id_number_tok
                               ORDER BY death_date, principal, batch_id, row_no) = 1
),
claims AS (
    SELECT d.id_number_tok AS subject, d.death_date, d.principal AS d_principal,
           d.batch_id AS d_batch_id, d.row_no AS d_row_no,
           s.settlement_no, s.admission_date, s.fund_paid, s.total_cost,
           s.principal, s.batch_id, s.row_no
    FROM deaths d
    JOIN medins__settlements s ON s.id_number_tok = d.id_number_tok
    WHERE s.admission_date > d.death_date
)
SELECT subject,
       list_concat(
           [{'dataset': 'police.deaths', 'principal': any_value(d_principal),
             'batch_id': any_value(d_batch_id), 'row_no': any_value(d_row_no),
             'key': MAP {'id_number': subject}}],
           list({'dataset': 'medins.settlements', 'principal': principal, 'batch_id': batch_id,
                 'row_no': row_no, 'key': MAP {'settlement_no': settlement_no}}
                ORDER BY settlement_no)) AS evidence,
       1                                                                   AS priority,
       strftime(any_value(death_date), '%Y-%m-%d')                         AS death_date,
       CAST(count(*) AS VARCHAR)                                           AS settlement_count,
       string_agg(settlement_no, ',' ORDER BY settlement_no)               AS settlements,
       strftime(min(admission_date), '%Y-%m-%d')                           AS first_admission,
       CAST(date_diff('day', any_value(death_date), min(admission_date)) AS VARCHAR) AS days_after_death,
       CAST(coalesce(sum(fund_paid), 0) AS VARCHAR)                        AS fund_paid_total,
       CAST(coalesce(sum(total_cost), 0) AS VARCHAR)                       AS total_cost
FROM claims
GROUP BY subject
ORDER BY subject
