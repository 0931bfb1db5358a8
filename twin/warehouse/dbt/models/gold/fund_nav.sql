-- gold.fund_nav: daily NAV per share and AUM per fund, with the fund's descriptive attributes.
select
    n.fund_id,
    f.ticker,
    f.name as fund_name,
    f.asset_class,
    f.currency,
    n.nav_date,
    n.nav,
    n.aum
from {{ ref('silver_nav') }} n
join {{ ref('silver_funds') }} f on f.fund_id = n.fund_id
