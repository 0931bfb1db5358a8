-- Masking policies. IS_ROLE_IN_SESSION honours the role hierarchy and secondary roles, so the most
-- privileged branch comes first. GETVARIABLE('DEPARTMENT') is the session department from the caller's
-- claims (the API tier sets it per session, in Snowflake as in the twin).
CREATE OR REPLACE MASKING POLICY ssn_mask AS (val STRING) RETURNS STRING ->
  CASE
    WHEN IS_ROLE_IN_SESSION('WEALTH_ADMIN') THEN val
    WHEN IS_ROLE_IN_SESSION('WEALTH_ADVISOR') AND GETVARIABLE('DEPARTMENT') = 'Wealth' THEN val
    WHEN IS_ROLE_IN_SESSION('WEALTH_ADVISOR') OR IS_ROLE_IN_SESSION('RETAIL_TELLER')
      OR IS_ROLE_IN_SESSION('COMPLIANCE_AUDITOR') THEN '***-**-' || RIGHT(val, 4)
    ELSE 'XXXX'
  END
  COMMENT = 'SSN: full for wealth staff of the Wealth department, last four for tellers and auditors';

CREATE OR REPLACE MASKING POLICY pii_mask AS (val STRING) RETURNS STRING ->
  CASE
    WHEN IS_ROLE_IN_SESSION('WEALTH_ADVISOR') THEN val
    WHEN IS_ROLE_IN_SESSION('RETAIL_TELLER') THEN LEFT(val, 3) || '****' || RIGHT(val, 3)
    ELSE 'XXXX'
  END
  COMMENT = 'Contact details and account numbers';

CREATE OR REPLACE MASKING POLICY balance_mask AS (val NUMBER) RETURNS NUMBER ->
  CASE
    WHEN IS_ROLE_IN_SESSION('WEALTH_ADVISOR') OR IS_ROLE_IN_SESSION('COMPLIANCE_AUDITOR') THEN val
    ELSE NULL
  END
  COMMENT = 'Account-level balances; tellers see only customer_360.total_balance';
