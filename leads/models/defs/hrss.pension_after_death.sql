-- hrss.pension_after_death 死亡后冒领养老金
-- Pension paid for months after the month of death. One lead per person.
WITH deaths AS (
    SELECT * FROM police__deaths
    WHERE id_number_tok IS NOT NULL AND death_date IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY id_number_tok
                               ORDER BY death_date, principal, batch_id, row_no) = 1
),
paid AS (
    SELECT d.id_number_tok AS subject, d.death_date, d.principal AS d_principal,
           d.batch_id AS d_batch_id, d.row_no AS d_row_no,
           p.period, p.amount, p.principal, p.batch_id, p.row_no
    FROM deaths d
    JOIN hrss__pension_payments p ON p.id_number_tok = d.id_number_tok
    WHERE p.period > date_trunc('month', d.death_date)
)
SELECT subject,
       list_concat(
           [{'dataset': 'police.deaths', 'principal': any_value(d_principal),
             'batch_id': any_value(d_batch_id), 'row_no': any_value(d_row_no),
             'key': MAP {'id_number': subject}}],
           list({'dataset': 'hrss.pension_payments', 'principal': principal, 'batch_id': batch_id,
                 'row_no': row_no, 'key': MAP {'id_number': subject, 'period': strftime(period, '%Y-%m')}}
                ORDER BY period)) AS evidence,
       1                                                               AS priority,
       strftime(any_value(death_date), '%Y-%m-%d')                     AS death_date,
       CAST(count(*) AS VARCHAR)                                       AS months,
       string_agg(strftime(period, '%Y-%m'), ',' ORDER BY period)      AS periods,
       strftime(min(period), '%Y-%m')                                  AS first_period,
       strftime(max(period), '%Y-%m')                                  AS last_period,
       CAST(sum(amount) AS VARCHAR)                                    AS total
FROM paid
GROUP BY subject
ORDER BY subject
