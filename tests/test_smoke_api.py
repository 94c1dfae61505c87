async def test_report_roundtrip(api, add_analyst):
    r = await api.post("/api/v1/reports", json={"category": "csam", "urls": ["https://example.com/x"]})
    assert r.status == 201, await r.text()
    body = await r.json()
    h = await add_analyst("alice")
    r = await api.post("/api/v1/analyst/claim", headers=h)
    assert r.status == 200
    case = await r.json()
    assert case["url"] == "https://example.com/x"
    r = await api.get(f"/api/v1/receipts/{body['receipt']}")
    assert (await r.json())["status"] == "in_review"
