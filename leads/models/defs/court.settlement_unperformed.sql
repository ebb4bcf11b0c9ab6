-- court.settlement_unperformed 行政非诉执行和解逾期未履行
-- An enforcement case closed by 执行和解 whose settlement due date is
-- before the as-of date, with the performed amount (empty: 0) below the
-- amount and no resumed case. One lead per case. Priority rises as the
-- limit for applying to resume enforcement ($limit_years after the due
-- date) nears: 1 with more than 365 days left, 2 with 181–365, 3 with
-- 31–180, 4 with 30 or fewer or once it has passed.
WITH due AS (
    SELECT e.*,
           coalesce(e.performed_amount, 0) AS performed,
           CAST(e.settlement_due_date + to_years(CAST($limit_years AS INTEGER)) AS DATE) AS resume_deadline
    FROM court__enforcement_cases e
    WHERE e.closing_method = '执行和解'
      AND e.settlement_due_date < CAST($as_of AS DATE)
      AND coalesce(e.performed_amount, 0) < e.amount
      AND (e.resumed_case_no IS NULL OR e.resumed_case_no = '')
),
days AS (
    SELECT *, date_diff('day', CAST($as_of AS DATE), resume_deadline) AS days_left FROM due
)
SELECT coalesce(respondent_id_tok, '') AS subject,
       [{'dataset': 'court.enforcement_cases', 'principal': principal, 'batch_id': batch_id,
         'row_no': row_no, 'key': MAP {'case_no': case_no}}] AS evidence,
       CASE WHEN days_left > 365 THEN 1
            WHEN days_left > 180 THEN 2
            WHEN days_left > 30 THEN 3
            ELSE 4 END                                                       AS priority,
       case_no,
       applicant,
       respondent,
       CAST(amount AS VARCHAR)                                               AS amount,
       CAST(CAST(performed AS DECIMAL(18, 2)) AS VARCHAR)                    AS performed_amount,
       CAST(CAST(amount - performed AS DECIMAL(18, 2)) AS VARCHAR)           AS outstanding,
       strftime(settlement_due_date, '%Y-%m-%d')                             AS due_date,
       CAST(date_diff('day', settlement_due_date, CAST($as_of AS DATE)) AS VARCHAR) AS days_overdue,
       strftime(resume_deadline, '%Y-%m-%d')                                 AS resume_deadline,
       CAST(days_left AS VARCHAR)                                            AS days_to_deadline
FROM days
ORDER BY case_no
