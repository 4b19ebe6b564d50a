{
  "custos_signatures": 1,
  "payload_type": "application/vnd.custos.manifest+json; version=1",
  "signatures": [
    {
      "key_id": "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9",
      "sig": "tZ/XB7ufGNqpz1roudG54/hdiGAenDYKXMfFpnIcfCEDcQinLTjchBaWlLTYKN0+XdlzG/epP2A2YYYR3s1xCg=="
    }
  ]
}
